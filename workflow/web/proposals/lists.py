"""The worklist of open deadlines and the proposal list (a page, or the whole list streamed as
CSV or JSON). The start page is „Meine Aufgaben“ (:mod:`workflow.web.tasks`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from flask import g, render_template, request, stream_with_context
from werkzeug.wrappers import Response

from workflow.app.listing import PROPOSAL_FIELDS, write_csv
from workflow.app.machine import machine_row
from workflow.errors import InvalidInput
from workflow.process.german import euro
from workflow.web import reads
from workflow.web.pages import (
    berlin,
    error_page,
    login_required,
    proposal_href_builder,
    state_label,
)
from workflow.web.proposals.blueprint import bp
from workflow.web.state import web

WORKLIST_ROWS = 50  # open deadlines per worklist page (as the proposal list's PAGE_SIZE)


class WorklistRow(NamedTuple):
    """A row of the worklist as the page shows it (formatted once, here, not in the template:
    the worklist has 200 rows, and a filter call per cell was a third of the page's time)."""

    href: str
    key: str
    label: str
    due: str
    overdue: bool
    lead: str
    state: str


@bp.get("/worklist")
@login_required
def worklist() -> str:
    """The open deadlines, soonest first: a ministry's own, a forum lead's forum's, or all."""
    w = web()
    who = w.runtime.directory.actor(g.actor)
    lead = who.ministry if who.role == "ministry" else None
    forum = who.forum if who.role == "forum_lead" else None  # a forum lead: its forum only
    page = max(1, reads.query_number(request.args.get("page")) or 1)
    # one row more than shown says whether there is a next page, without counting them all
    rows = reads.open_deadlines(
        w.runtime,
        w.now(),
        lead=lead,
        themenforum=forum,
        limit=WORKLIST_ROWS + 1,
        offset=(page - 1) * WORKLIST_ROWS,
    )
    href = proposal_href_builder()
    shown = [
        WorklistRow(
            href=href(r["key"]),
            key=r["key"],
            label=r["label"],
            due=berlin(r["due_at"]),
            overdue=r["overdue"],
            lead=r["lead"],
            state=state_label(w.definition, r["state"]),
        )
        for r in rows[:WORKLIST_ROWS]
    ]
    return render_template(
        "proposals/worklist.html",
        rows=shown,
        page=page,
        first=(page - 1) * WORKLIST_ROWS + 1,
        more=len(rows) > WORKLIST_ROWS,
    )


class ListRow(NamedTuple):
    """A row of the proposal list as the page shows it (formatted here, as the worklist's)."""

    href: str
    key: str
    title: str
    state: str
    handlungsfeld: int
    themenforum: int
    lead: str
    cost: str


@bp.get("/proposals")
@login_required
def proposal_list() -> Any:
    """A page of the filtered, sorted list; ``format=csv|json`` the whole list as a file."""
    w = web()
    query = reads.ListQuery.from_args(request.args)
    fmt = request.args.get("format")
    try:  # an unknown definition version is an error, as in the CLI and the API
        if fmt in ("csv", "json"):
            return _download(reads.iter_proposal_rows(w.runtime, query), fmt)
        found = reads.proposal_page(w.runtime, query)
    except InvalidInput:
        version = query.definition_version
        return error_page(422, f"Die Prozessversion {version} ist nicht registriert.")
    href = proposal_href_builder()
    rows = [
        ListRow(
            href=href(r["key"]),
            key=r["key"],
            title=r["title"],
            state=state_label(w.definition, r["state"]),
            handlungsfeld=r["handlungsfeld"],
            themenforum=r["themenforum"],
            lead=r["lead"],
            cost=euro(r["cost_estimate"]),
        )
        for r in found.rows
    ]
    return render_template(
        "proposals/list.html",
        rows=rows,
        total=found.total,
        exact=found.exact,
        query=query,
        pages=found.pages,
        page=found.page,
        states=w.definition.states,
        sorts=reads.SORTS,
        leads=sorted(w.runtime.directory.ministries),
    )


def _download(rows: Iterator[dict[str, Any]], fmt: str) -> Response:
    """The list as a file, streamed as it is read: a large list is never built in memory."""
    chunks = json_chunks(machine_row(r) for r in rows) if fmt == "json" else _csv_chunks(rows)
    mimetype = "application/json" if fmt == "json" else "text/csv"
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=vorschlaege.{fmt}"
    return response


def json_chunks(rows: Iterator[dict[str, Any]], batch: int = 500) -> Iterator[str]:
    """``json.dumps(list(rows), ensure_ascii=False, indent=2)``, ``batch`` rows at a time."""
    parts: list[str] = []
    opening = "[\n  "
    for r in rows:
        # the row's own lines one level deeper (a newline inside a string is escaped)
        parts.append(json.dumps(r, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        if len(parts) == batch:
            yield opening + ",\n  ".join(parts)
            parts, opening = [], ",\n  "
    if parts:
        yield opening + ",\n  ".join(parts)
        opening = ""
    yield "[]" if opening.startswith("[") else "\n]"


def _csv_chunks(rows: Iterator[dict[str, Any]], batch: int = 500) -> Iterator[str]:
    """The list for German Excel, ``batch`` rows at a time: what ``ruhrflow proposal list
    --format csv --excel`` writes (a byte order mark, ``;``, a decimal comma, formulas
    neutralised: the same code), under German column names."""
    out = io.StringIO()
    for n in write_csv(out, rows, PROPOSAL_FIELDS, excel=True, german=True):
        if n % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
