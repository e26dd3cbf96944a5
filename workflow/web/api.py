"""The JSON API: the CLI's JSON over HTTP, with the same accounts and the same engine calls.

Bearer tokens need no CSRF token; cookie sessions do (header ``X-CSRFToken``). Every error
is ``{"error": "<one line>"}`` with a status that says what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, g, jsonify, request, url_for
from werkzeug.wrappers import Response

from workflow.app.machine import machine_detail, machine_row, zulu
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
from workflow.web import accounts, reads
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
    """For the caller; ``set=F=V`` (repeated) and ``comment`` check as if they were given,
    as ``ruhrflow triggers --set --comment`` does."""
    from workflow.process.fields import parse_assignments

    fields = parse_assignments(tuple(request.args.getlist("set")))
    comment = request.args.get("comment")
    return jsonify(_operations().triggers(key, actor=g.actor, fields=fields, comment=comment))


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


@bp.post("/advance")
@login_required
def advance_many() -> Response:
    """``ruhrflow advance`` for the caller: one or many proposals by key, or every proposal
    in a state; all or nothing unless ``partial``; ``dry_run`` rolls back; an answer per
    proposal."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    trigger = _typed(body, "trigger", str, "a non-empty string", required=True)
    keys = _typed(body, "keys", list, "a list of keys") or []
    where = _string_map(body.get("where"), "where")
    if not trigger:
        raise BadBody("trigger must be a non-empty string")
    if not all(isinstance(k, str) and k for k in keys):
        raise BadBody("keys must be a list of keys")
    state = _typed(where, "state", str, "a string")
    if bool(keys) == (state is not None) or set(where) - {"state"}:
        raise BadBody("name the proposals either by keys or by where: {state: S}")
    result = _operations().advance(
        trigger,
        actor=g.actor,  # the logged-in account, never a request parameter
        keys=keys,
        where_state=state,
        comment=_typed(body, "comment", str, "a string") or None,
        fields=_string_map(body.get("fields"), "fields"),
        partial=bool(_typed(body, "partial", bool, "true or false")),
        dry_run=bool(_typed(body, "dry_run", bool, "true or false")),
    )
    return jsonify(result)


@bp.post("/proposals/<key>/statements")
@login_required
def statements(key: str) -> tuple[Response, int] | Response:
    """``ruhrflow consult record``: a consultation statement, recorded by the caller."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    result = _operations().record_statement(
        key,
        actor=g.actor,
        party=_typed(body, "party", str, "a string", required=True),
        group=_typed(body, "group", str, "a string", required=True),
        position=_typed(body, "position", str, "a string", required=True),
        text=_typed(body, "text", str, "a string") or "",
    )
    return jsonify(result), 201


@bp.patch("/proposals/<key>")
@login_required
def edit(key: str) -> Response:
    """``ruhrflow proposal edit``: ``{"set": {FIELD: VALUE, …}, "comment": …}`` — title,
    summary, cost_estimate (euros as a string, or null), participating (a list of codes),
    handlungsfeld; one history entry with each old and new value."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    changes = _typed(body, "set", dict, "an object of fields and values", required=True)
    result = _operations().edit_proposal(
        key, actor=g.actor, changes=changes, comment=_typed(body, "comment", str, "a string")
    )
    return jsonify(result)


@bp.post("/proposals/<key>/funding")
@login_required
def funding(key: str) -> tuple[Response, int] | Response:
    """``ruhrflow funding add``: a funding line (``amount`` in euros as a string)."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    result = _operations().add_funding(
        key,
        actor=g.actor,
        source=_typed(body, "source", str, "a string", required=True),
        amount=_typed(body, "amount", str, "a string of euros (2500000.00)", required=True),
        year=_typed(body, "year", int, "an integer", required=True),
        secured=bool(_typed(body, "secured", bool, "true or false")),
    )
    return jsonify(result), 201


@bp.post("/proposals")
@login_required
def add_proposal() -> tuple[Response, int] | Response:
    """``ruhrflow proposal add``: one proposal in the initial state, by the caller."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    participating = _typed(body, "participating", list, "a list of ministry codes") or []
    if not all(isinstance(p, str) for p in participating):
        raise BadBody("participating must be a list of ministry codes")
    added = _operations().add_proposal(
        actor=g.actor,
        title=_typed(body, "title", str, "a string", required=True),
        handlungsfeld=_typed(body, "handlungsfeld", int, "an integer", required=True),
        themenforum=_typed(body, "themenforum", int, "an integer", required=True),
        lead=_typed(body, "lead", str, "a ministry code", required=True),
        key=_typed(body, "key", str, "a key such as RK-03-01"),
        cost=_typed(body, "cost", str, "a string of euros (2500000.00)"),
        participating=participating,
        summary=_typed(body, "summary", str, "a string") or "",
    )
    return jsonify(added), 201


@bp.post("/proposals/import")
@login_required
def import_proposals() -> Response:
    """``ruhrflow proposal import``: the body is the UTF-8 CSV; all or nothing unless
    ``skip_invalid``; the rows left out with their line and reason."""
    done = _operations().import_proposals(
        request.get_data(cache=False), actor=g.actor, skip_invalid=_flag("skip_invalid")
    )
    return jsonify(done)


def _migration_selection(body: Mapping[str, Any]) -> dict[str, Any]:
    """The proposals and target of ``migrate plan|apply``: ``to_version``, ``map`` (a list of
    ``OLD=NEW``), ``fields``, ``keys`` or ``where: {state}``."""
    maps = _typed(body, "map", list, "a list of OLD=NEW") or []
    keys = _typed(body, "keys", list, "a list of keys") or []
    where = _string_map(body.get("where"), "where")
    if not all(isinstance(m, str) for m in maps):
        raise BadBody("map must be a list of OLD=NEW")
    if not all(isinstance(k, str) and k for k in keys):
        raise BadBody("keys must be a list of keys")
    if set(where) - {"state"}:
        raise BadBody("where takes only a state")
    return {
        "to_version": _typed(body, "to_version", int, "an integer", required=True),
        "maps": maps,
        "fields": _string_map(body.get("fields"), "fields"),
        "keys": keys,
        "where_state": _typed(where, "state", str, "a string"),
    }


@bp.post("/migrations/plan")
@login_required
def migration_plan() -> Response:
    """``ruhrflow migrate plan``: what moving the proposals to a version would do (writes
    nothing)."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    return jsonify(_operations().migration_plan(**_migration_selection(body)))


@bp.post("/migrations/apply")
@login_required
def migration_apply() -> Response:
    """``ruhrflow migrate apply``: the plan applied in one transaction (coordinators, the
    engine's rule); all or nothing unless ``partial``."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    result = _operations().migrate(
        actor=g.actor,
        partial=bool(_typed(body, "partial", bool, "true or false")),
        comment=_typed(body, "comment", str, "a string") or None,
        **_migration_selection(body),
    )
    return jsonify(result)


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


@bp.get("/deadlines")
@login_required
def deadlines() -> Response:
    """``ruhrflow deadlines``: open deadlines, soonest first (``overdue``, ``due_within``
    such as 14d or 10wd, ``lead``)."""
    rows = _operations().deadlines(
        overdue=_flag("overdue"), due_within=_text("due_within"), lead=_text("lead")
    )
    return jsonify(rows)


@bp.post("/proposals/<key>/deadlines/<kind>/move")
@login_required
def move_deadline(key: str, kind: str) -> Response:
    """``ruhrflow deadlines move``: to another day, with a reason (the engine's rule on who)."""
    body = _json_object()
    if isinstance(body, Response):
        return body
    to_text = _typed(body, "to", str, "a date YYYY-MM-DD", required=True)
    reason = _typed(body, "reason", str, "a string", required=True)
    try:
        to_day = date.fromisoformat(to_text)
    except ValueError:
        raise BadBody("to must be a date YYYY-MM-DD") from None
    moved = _operations().move_deadline(key, kind, to_day, reason=reason, actor=g.actor)
    return jsonify(moved)


@bp.get("/notices")
@login_required
def notices() -> Response:
    """``ruhrflow notices list``: the outbox, newest first (the office and auditors)."""
    _require_role("read the notices", "coordinator", "auditor")
    status = _text("status")
    if status not in (None, "pending", "sending", "sent", "failed"):
        raise BadBody("status must be pending, sending, sent or failed")
    limit = _whole_number("limit", 0)
    if limit is None:
        raise BadBody("limit must be a whole number")
    return jsonify(_operations().notices(status=status, limit=limit or None))


@bp.post("/audit/verify")
@login_required
def audit_verify() -> Response:
    """``ruhrflow audit verify [--checkpoint D] [--record]``: every chain re-computed; with
    ``record`` the result goes on ``@system`` as the caller's."""
    _require_role("verify the history", "auditor", "coordinator")
    body = _json_object()
    if isinstance(body, Response):
        return body
    checkpoint = _typed(body, "checkpoint", str, "a digest")
    record = bool(_typed(body, "record", bool, "true or false"))
    result = _operations().audit_verify(checkpoint=checkpoint, recorder=g.actor if record else None)
    return jsonify(result)


@bp.post("/audit/checkpoint")
@login_required
def audit_checkpoint() -> Response:
    """``ruhrflow audit checkpoint``: one digest over all chain heads, recorded."""
    _require_role("record a checkpoint", "auditor", "coordinator")
    return jsonify(_operations().audit_checkpoint(actor=g.actor))


@bp.get("/audit/export")
@login_required
def audit_export() -> Response:
    """``ruhrflow audit export``: every history entry with its hashes (``format`` jsonl or
    csv; ``delimiter`` and ``bom`` for spreadsheets); what was written in ``X-Ruhrflow-*``
    headers."""
    import io

    _require_role("export the history", "auditor", "coordinator")
    fmt = _text("format") or "jsonl"
    delimiter = _text("delimiter") or ","
    if fmt not in ("jsonl", "csv") or delimiter not in (",", ";"):
        raise BadBody("format must be jsonl or csv, delimiter , or ;")
    out = io.StringIO()
    summary = _operations().audit_export(out, fmt=fmt, delimiter=delimiter, bom=_flag("bom"))
    kind = "text/csv" if fmt == "csv" else "application/jsonl"
    response = Response(out.getvalue(), mimetype=kind)
    response.headers["X-Ruhrflow-Rows"] = str(summary["rows"])
    response.headers["X-Ruhrflow-Chains"] = str(summary["chains"])
    response.headers["X-Ruhrflow-Heads-Digest"] = summary["heads_digest"]
    return response


@bp.get("/audit/log")
@login_required
def audit_log() -> Response:
    """``ruhrflow audit log``: entries of one chain (``key``) or all, oldest first."""
    _require_role("read the audit log", "auditor", "coordinator")
    entries = _operations().audit_log(
        key=_text("key"),
        since=_moment("since"),
        until=_moment("until"),
        actor=_text("actor"),
        trigger=_text("trigger"),
    )
    return jsonify(entries)


@bp.get("/reports/<name>")
@login_required
def report(name: str) -> Response:
    """``ruhrflow report status|lead-times|overdue`` (``as_of`` a day) and ``stuck``
    (``days``)."""
    ops = _operations()
    as_of = _text("as_of")
    if name == "status":
        return jsonify(ops.report_status(as_of=as_of))
    if name == "lead-times":
        return jsonify(ops.report_lead_times(as_of=as_of))
    if name == "overdue":
        return jsonify(ops.report_overdue(as_of=as_of))
    if name == "stuck":
        days = _whole_number("days", 30)
        if days is None or days < 1:
            raise BadBody("days must be a whole number from 1")
        return jsonify(ops.report_stuck(days=days))
    return error(404, f"no report {name!r}: status, lead-times, overdue or stuck")


TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
NO_SESSION = frozenset({"api.tokens"})
"""Endpoints that take credentials in the body and never read the session: no CSRF token
(a forged request would need the password, and could not read the answer)."""


@bp.post("/tokens")
def tokens() -> tuple[Response, int] | Response:
    """``ruhrflow login``: a new token for an account and its password (throttled like the
    login page); the token is shown once, only its hash is kept."""
    from datetime import timedelta

    body = _json_object()
    if isinstance(body, Response):
        return body
    account = _typed(body, "account", str, "a string", required=True)
    password = _typed(body, "password", str, "a string", required=True)
    days = _typed(body, "expires_in_days", int, f"an integer from 1 to {MAX_TOKEN_DAYS}")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise BadBody(f"expires_in_days must be an integer from 1 to {MAX_TOKEN_DAYS}")
    w = web()
    now = w.now()
    try:
        actor = accounts.authenticate(
            w.runtime.store, account, password, now, address=request.remote_addr or ""
        )  # failures count per account and client address, as on the login page
    except accounts.LoginThrottled as exc:
        log.warning("refused: token for %s: throttled", ascii(account))
        return error(429, str(exc))
    if actor is None:
        log.warning("refused: token for %s: wrong account or password", ascii(account))
        return error(401, "wrong account or password")
    expires_in = timedelta(days=days or TOKEN_DAYS)
    token_id, token = accounts.create_token(w.runtime.store, actor, now, expires_in=expires_in)
    log.info("token %s created for %s by its password", token_id, actor)
    return jsonify({"account": actor, "token": token, "expires_at": zulu(now + expires_in)}), 201


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API (:mod:`workflow.web.openapi`)."""
    from workflow.web.openapi import document

    return jsonify(document(DEFAULT_LIMIT, MAX_LIMIT))
