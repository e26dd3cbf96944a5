"""The JSON API: the CLI's JSON over HTTP, with the same accounts and the same engine calls.

Bearer tokens need no CSRF token; cookie sessions do (header ``X-CSRFToken``). Every error
is ``{"error": "<one line of English>", "message": "<a German sentence>"}`` with a status that
says what went wrong.
"""

from __future__ import annotations

# the routes register themselves on ``bp`` when their modules are imported
from workflow.web.api import admin, proposals, tokens
from workflow.web.api.base import (
    bp,
    error,
    german_of,
    login_required,
    status_of,
    workflow_error,
)
from workflow.web.api.tokens import NO_SESSION, openapi

__all__ = [
    "NO_SESSION",
    "admin",
    "bp",
    "error",
    "german_of",
    "login_required",
    "openapi",
    "proposals",
    "status_of",
    "tokens",
    "workflow_error",
]
