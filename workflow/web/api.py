"""The JSON API: the CLI's JSON over HTTP, with the same accounts and the same engine calls.

Bearer tokens need no CSRF token; cookie sessions do (header ``X-CSRFToken``). Every error
is ``{"error": "<one line>"}`` with a status that says what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, jsonify, request, url_for
from werkzeug.wrappers import Response

from workflow import (
    ConcurrentUpdate,
    InvalidInput,
    PermissionDenied,
    StoreUnavailable,
    TransitionNotAllowed,
    UnknownProposal,
    WorkflowError,
)
from workflow.app.machine import machine_detail, machine_row, zulu
from workflow.inputs import capped_whole_number
from workflow.web import reads
from workflow.web.operations import unavailable
from workflow.web.state import web

log = logging.getLogger("workflow.web")
bp = Blueprint("api", __name__, url_prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])


def error(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status`` (one line)."""
    response = jsonify({"error": " ".join(str(message).split())})
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
    if isinstance(exc, StoreUnavailable):
        return 503
    return 400


@bp.errorhandler(WorkflowError)
def workflow_error(exc: WorkflowError) -> Response:
    status = status_of(exc)
    if isinstance(exc, StoreUnavailable):  # the detail (host, database) only to the log
        unavailable(exc)
        return error(status, "service unavailable")
    log.warning("refused: %s", exc)
    return error(status, str(exc))


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


@bp.get("/proposals")
@login_required
def proposals() -> Response:
    """A page of the list: ``limit`` rows (default 100, at most 1000) from ``offset``, in
    the order of ``sort``/``order``; a ``Link: <…>; rel="next"`` header names the next page
    while there is one (one row more than the page is read to know)."""
    limit = _whole_number("limit", DEFAULT_LIMIT)
    offset = _whole_number("offset", 0)
    if limit is None or limit < 1:
        return error(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    if offset is None:
        return error(400, f"offset must be an integer from 0 to {reads.MAX_QUERY_NUMBER}")
    limit = min(limit, MAX_LIMIT)
    query = reads.ListQuery.from_args(request.args)
    rows = reads.proposal_rows(web().runtime, query, offset=offset, limit=limit + 1)
    response = jsonify([machine_row(r) for r in rows[:limit]])
    if len(rows) > limit:
        args: dict[str, Any] = request.args.to_dict()
        args.update(limit=str(limit), offset=str(offset + limit))
        # relative, or from [web] base_url: never the Host the request claims
        following = (web().base_url or "").rstrip("/") + url_for("api.proposals", **args)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response


@bp.get("/proposals/<key>")
@login_required
def proposal(key: str) -> Response:
    return jsonify(machine_detail(reads.detail(web().runtime, key)))


@bp.get("/proposals/<key>/triggers")
@login_required
def triggers(key: str) -> Response:
    w = web()
    return jsonify(zulu(reads.triggers(w.runtime, key, g.actor, w.now())))


@bp.get("/proposals/<key>/history")
@login_required
def history(key: str) -> Response:
    return jsonify(zulu(reads.history(web().runtime, key)))


@bp.post("/proposals/<key>/advance")
@login_required
def advance(key: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "expected a JSON object")
    trigger = body.get("trigger")
    comment = body.get("comment")
    fields = body.get("fields") or {}
    expected = body.get("expected_version")
    if not isinstance(trigger, str) or not trigger:
        return error(400, "trigger must be a non-empty string")
    if comment is not None and not isinstance(comment, str):
        return error(400, "comment must be a string")
    if not isinstance(fields, dict):
        return error(400, "fields must be an object")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        return error(400, "expected_version must be an integer")
    w = web()
    w.runtime.engine.advance(
        key,
        trigger,
        actor=g.actor,  # the logged-in account, never a request parameter
        now=w.now(),
        comment=comment or None,
        fields=fields,
        expected_version=expected,
    )
    return jsonify(machine_detail(reads.detail(w.runtime, key)))


def _error_response() -> dict[str, Any]:
    return {
        "description": "Error",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                }
            }
        },
    }


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _key_param() -> dict[str, Any]:
    return {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    errors = {str(code): _error_response() for code in (401, 403, 404)}
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        for name, kind in (
            ("state", "string"),
            ("lead", "string"),
            ("handlungsfeld", "integer"),
            ("themenforum", "integer"),
            ("q", "string"),
            ("definition_version", "integer"),
        )
    ]
    paging = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"rows per page (at most {MAX_LIMIT}; more is read as {MAX_LIMIT})",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "rows to skip (follow the Link header rather than counting)",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
    ]
    next_link = {
        "Link": {
            "description": 'the next page, `<URL>; rel="next"`, while there is one',
            "schema": {"type": "string"},
        }
    }
    obj = {"type": "object"}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "ruhrflow API", "version": "1"},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ruhrflow_session"},
            }
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/proposals": {
                "get": {
                    "summary": "A page of proposals (as `ruhrflow proposal list --format json`)",
                    "parameters": filters + paging,
                    "responses": {
                        "200": {
                            **_ok({"type": "array", "items": obj}),
                            "headers": next_link,
                        },
                        "400": _error_response(),
                        **errors,
                    },
                }
            },
            "/api/proposals/{key}": {
                "get": {
                    "summary": "One proposal (as `ruhrflow proposal show --format json`)",
                    "parameters": [_key_param()],
                    "responses": {"200": _ok(obj), **errors},
                }
            },
            "/api/proposals/{key}/triggers": {
                "get": {
                    "summary": "What can happen next, for the caller (as `ruhrflow triggers`)",
                    "parameters": [_key_param()],
                    "responses": {"200": _ok({"type": "array", "items": obj}), **errors},
                }
            },
            "/api/proposals/{key}/history": {
                "get": {
                    "summary": "The history (as `ruhrflow history --format json`)",
                    "parameters": [_key_param()],
                    "responses": {"200": _ok({"type": "array", "items": obj}), **errors},
                }
            },
            "/api/proposals/{key}/advance": {
                "post": {
                    "summary": "Fire a trigger as the caller (as `ruhrflow advance`)",
                    "parameters": [_key_param()],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["trigger"],
                                    "properties": {
                                        "trigger": {"type": "string"},
                                        "comment": {"type": "string"},
                                        "fields": {"type": "object"},
                                        "expected_version": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _ok(obj),
                        **{str(c): _error_response() for c in (400, 401, 403, 404, 409, 422)},
                    },
                }
            },
        },
    }
    return jsonify(spec)
