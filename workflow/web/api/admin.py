"""The API behind the rest of the CLI: migrations, deadlines and their moves, notices, the
audit acts and the reports."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import g, jsonify
from werkzeug.wrappers import Response

from workflow.web.api.base import (
    BadBody,
    _flag,
    _json_object,
    _moment,
    _operations,
    _require_role,
    _string_map,
    _text,
    _typed,
    _whole_number,
    bp,
    error,
    login_required,
)

log = logging.getLogger("workflow.web")


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
