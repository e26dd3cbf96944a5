"""What every endpoint of the JSON API shares: the blueprint, the one error shape, the status
of an engine error, the login check, and the reading of a query or a JSON body."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, jsonify, request
from werkzeug.wrappers import Response

from workflow.app.operations import Operations
from workflow.errors import (
    ConcurrentUpdate,
    InvalidInput,
    PermissionDenied,
    StoreUnavailable,
    TransitionNotAllowed,
    UnknownProposal,
    WorkflowError,
)
from workflow.inputs import capped_whole_number
from workflow.web import reads
from workflow.web.operations import unavailable
from workflow.web.pages import MESSAGES
from workflow.web.state import web

log = logging.getLogger("workflow.web")


bp = Blueprint("api", __name__, url_prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])


def error(status: int, message: str, german: str | None = None) -> Response:
    """``{"error": message, "message": german}`` with ``status``: ``error`` the English machine
    line a client matches on, ``message`` a German sentence to show a person (by default the
    status's, :data:`workflow.web.pages.MESSAGES`)."""
    german = german or MESSAGES.get(status) or MESSAGES[500 if status >= 500 else 400]
    response = jsonify({"error": " ".join(str(message).split()), "message": german})
    response.status_code = status
    return response


def status_of(exc: WorkflowError) -> int:
    """The HTTP status of an engine error."""
    if isinstance(exc, UnknownProposal):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, TransitionNotAllowed | ConcurrentUpdate):
        return 409
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, StoreUnavailable) or exc.exit_code == 3:
        return 503
    if exc.exit_code == 2:
        return 422
    return 409  # refused by the process (exit 1): a duplicate key, an audit break, …


@bp.errorhandler(WorkflowError)
def workflow_error(exc: WorkflowError) -> Response:
    status = status_of(exc)
    if isinstance(exc, StoreUnavailable):  # the detail (host, database) only to the log
        unavailable(exc)
        return error(status, "service unavailable")
    log.warning("refused: %s", exc)
    return error(status, str(exc), german_of(exc))


def german_of(exc: WorkflowError) -> str | None:
    """The German sentence for an engine error: its own where it has one (``exc.german``),
    else its kind's (None: the status's). Its English text is for the log and the CLI."""
    german = getattr(exc, "german", None)
    if isinstance(german, str):
        return german
    return next((text for kind, text in GERMAN.items() if isinstance(exc, kind)), None)


GERMAN: dict[type[WorkflowError], str] = {
    UnknownProposal: "Diesen Vorschlag gibt es nicht.",
    PermissionDenied: "Dafür fehlt Ihnen die Berechtigung.",
    ConcurrentUpdate: "Der Vorschlag wurde inzwischen geändert. Bitte laden Sie ihn neu.",
    TransitionNotAllowed: "Das ist im jetzigen Status des Vorschlags nicht möglich.",
    InvalidInput: "Die Eingabe ist ungültig.",
}


def login_required(view: F) -> F:
    """401 unless a session or a token names an enabled account."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return error(401, "not logged in")
        return view(*args, **kwargs)

    wrapper.needs_login = True  # type: ignore[attr-defined]  # (limits.needs_login)
    return cast(F, wrapper)


DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _whole_number(name: str, default: int) -> int | None:
    """The query parameter ``name`` as a non-negative integer, ``default`` when absent,
    None when it is something else."""
    value = request.args.get(name, "").strip()
    if not value:
        return default
    number = capped_whole_number(value, reads.MAX_QUERY_NUMBER)
    return number if number is not None and number <= reads.MAX_QUERY_NUMBER else None


# --- what the CLI does over HTTP (``ruhrflow --server``) ----------------------------------


def _operations() -> Operations:
    w = web()
    return Operations(w.runtime, w.now())


def _json_object() -> dict[str, Any] | Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "expected a JSON object")
    return body


def _typed(
    body: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    what: str,
    *,
    required: bool = False,
) -> Any:
    """``body[name]`` when it is of ``kind`` (None when absent and not ``required``);
    raises BadBody with one line otherwise. A bool is no integer here."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
        raise BadBody(f"{name} must be {what}")
    return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


class BadBody(ValueError):
    """A request body that does not have the declared shape (400)."""


@bp.errorhandler(BadBody)
def bad_body(exc: BadBody) -> Response:
    return error(400, str(exc))


def _string_map(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadBody(f"{name} must be an object")
    return value


def _require_role(action: str, *roles: str) -> None:
    """PermissionDenied (403) unless the caller holds one of ``roles`` (as the web pages)."""
    role = web().runtime.directory.actor(g.actor).role
    if role not in roles:
        raise PermissionDenied(g.actor, action, None, f"only for {' and '.join(roles)}s")


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value not in ("", "true", "false", "1", "0"):
        raise BadBody(f"{name} must be true or false")
    return value in ("true", "1")


def _moment(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadBody(f"{name} must be an ISO time with an offset") from None
    if moment.tzinfo is None:
        raise BadBody(f"{name} must be an ISO time with an offset")
    return moment


def _text(name: str) -> str | None:
    return request.args.get(name, "").strip() or None
