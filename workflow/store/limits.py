"""The columns whose size bounds what a command may store: the key and cost estimate of a
proposal, the party of a statement, the amount of a funding line.

The engine checks its input against them (``workflow/inputs.py``: a text no longer than
the column, an amount that fits ``Numeric(p, s)`` exactly) before it writes, so that a
value too long or too precise is one clear error instead of a driver's, and the same on
SQLite, which would keep it, as on PostgreSQL, which would refuse it. Named here so that
the engine never reaches into the tables of :mod:`workflow.store.schema` itself.
"""

from __future__ import annotations

from workflow.store.schema import definitions, funding, proposals, statements

PROPOSAL_KEY = proposals.c.key
"""``String(n)``: a proposal's key (``RK-03-01``)."""

PROPOSAL_COST_ESTIMATE = proposals.c.cost_estimate
"""``Numeric(p, s)``: a proposal's cost estimate in euros."""

STATEMENT_PARTY = statements.c.party
"""``String(n)``: who made a consultation statement."""

FUNDING_AMOUNT = funding.c.amount
"""``Numeric(p, s)``: a funding line's amount in euros."""

DEFINITION_VERSION = definitions.c.version
"""An integer column: the version number of a registered definition."""
