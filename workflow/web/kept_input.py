"""What was typed survives a form that could not be sent (#27.7).

Two ways a form comes back without its action being done, and neither may cost the text:

- **"Zurück" on a confirmation page** posts the values back (hidden fields) with
  ``step=edit``, so the form shows them again — not a link that opens it empty.
- **An expired or foreign CSRF token** (the session ended and began again in another tab, a
  new login, a restart with a new secret): the CSRF handler answers a form that keeps its
  input (:func:`keeps_input`) by running the form's view once more, as a form to edit, with
  the posted values and a fresh token; a notice at the top (``base.html``, ``g.form_expired``)
  says that nothing was done yet.

Nothing is stashed in the session: the typed text travels in the request that carried it
(a long comment would overflow the session cookie).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from workflow.errors import WorkflowError

F = TypeVar("F", bound=Callable[..., Any])


def keeps_input(view: F) -> F:
    """Mark a form's view: after a CSRF failure it is shown again with what was posted."""
    view.keeps_input = True  # type: ignore[attr-defined]
    return view


def form_expired() -> bool:
    """True while a form's view runs again after its CSRF token was refused: show the
    form with the posted values; do nothing."""
    return bool(g.get("form_expired"))


def form_step(default: str = "edit") -> str:
    """The step a multi-step form is on (``edit``, ``review``, ``confirm``, …); ``edit``
    while the form is shown again after a refused token."""
    return "edit" if form_expired() else request.form.get("step", default)


def shown_again() -> Any | None:
    """The form's page with what was posted, when the refused request was a browser's form
    post to a view marked :func:`keeps_input` by a logged-in account; otherwise None (the
    caller answers with its error page)."""
    if request.method != "POST" or request.endpoint is None or g.get("actor") is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None or not getattr(view, "keeps_input", False):
        return None
    g.form_expired = True
    try:
        shown: Any = current_app.ensure_sync(view)(**(request.view_args or {}))
    except (WorkflowError, HTTPException):
        # the form cannot be shown to this account (no right, no such proposal): the
        # refused token's own error page answers, not a 500 from inside its handler
        g.form_expired = False
        return None
    response = current_app.make_response(shown)
    if response.status_code < 400:
        response.status_code = 400  # nothing was done: the form is the answer
    return response
