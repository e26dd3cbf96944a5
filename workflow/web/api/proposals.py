"""The API's proposals: the list, one proposal, its triggers and history, and what changes
them — advance (one or many), statements, edits, funding, new proposals and imports."""

from __future__ import annotations

import logging
from typing import Any

from flask import g, jsonify, request, url_for
from werkzeug.wrappers import Response

from workflow.app.machine import machine_detail, machine_row, zulu
from workflow.web import reads
from workflow.web.api.base import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadBody,
    _flag,
    _json_object,
    _operations,
    _string_map,
    _typed,
    _whole_number,
    bp,
    error,
    login_required,
)
from workflow.web.state import web

log = logging.getLogger("workflow.web")


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
        source=_typed(body, "source", str, "a string (where the proposal comes from)"),
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
