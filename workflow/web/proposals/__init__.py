"""The proposals' pages (German): the worklist and the list, one proposal's page, and the
forms that act on one proposal (a transition with a confirm step, funding, statements).

Views parse the form, call the engine exactly as the CLI does (``advance``, ``triggers``,
``add_funding``, ``record_statement``) and render. Permissions, guards and required fields are
the engine's; a view only decides which page to show. Templates: ``templates/proposals/``.
"""

from __future__ import annotations

# the routes register themselves on ``bp`` when their modules are imported
from workflow.web.proposals import actions, lists, page
from workflow.web.proposals.blueprint import bp

__all__ = ["actions", "bp", "lists", "page"]
