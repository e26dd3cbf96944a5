"""The worklist of open deadlines and the proposal list (a page, or the whole list streamed as
CSV or JSON). The start page is „Meine Aufgaben“ (:mod:`workflow.web.tasks`)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from flask import g, get_template_attribute, render_template, stream_with_context
from markupsafe import Markup
from werkzeug.wrappers import Response

from workflow.app.listing import PROPOSAL_FIELDS, write_csv
from workflow.app.machine import machine_row
from workflow.errors import InvalidInput
from workflow.process.german import euro
from workflow.web import reads
from workflow.web.pages import (
    berlin,
    error_page,
    html_text,
    login_required,
    plain_args,
    proposal_link_builder,
    state_label,
)
from workflow.web.proposals.blueprint import bp
from workflow.web.state import Web, web

WORKLIST_ROWS = 50  # open deadlines per worklist page (as the proposal list's PAGE_SIZE)


# The rows of the two tables are built here, one string per row, not cell by cell in the
# template: a list page has 50 rows of 7 cells, and the template's escaping and output of each
# cell was a fifth of the request. The markup is what the templates wrote (whitespace and all);
# every text from the database is escaped (:func:`~workflow.web.pages.html_text`, as
# markupsafe and Jinja escape), the rows joined into one Markup, and what the rows share
# a few values of (states, ministries, deadline kinds, numbers, amounts, due times) is
# formatted and escaped once per value and page.
WORKLIST_ROW = (
    "\n  <tr{overdue_class}>\n"
    '    <td><a href="{href}">{key}</a></td>\n'
    "    <td>{label}</td>\n"
    "    <td>{due}</td>\n"
    "    <td>{situation}</td>\n"
    "    <td>{lead}</td>\n"
    "    <td>{state}</td>\n"
    "  </tr>\n  "
)
# WORKLIST_ROW in two parts around its link: what follows the link is the same for the rows
# of one deadline kind, due time, ministry and state, and a page's rows share a few
WORKLIST_HEAD, _, WORKLIST_TAIL = WORKLIST_ROW.partition('<a href="{href}">{key}</a>')
LIST_ROW = (
    "\n  <tr>\n"
    '    <td><a href="{href}">{key}</a></td>\n'
    "    <td>{title}</td>\n"
    "    <td>{state}</td>\n"
    "    <td>{handlungsfeld}</td>\n"
    "    <td>{themenforum}</td>\n"
    "    <td>{lead}</td>\n"
    '    <td class="num nowrap">{cost}</td>\n'
    "  </tr>\n  "
)
# LIST_ROW around its link and title: what follows the title, formatted once per page for
# the rows of one state, Handlungsfeld, forum, ministry and amount
LIST_HEAD, _, _rest = LIST_ROW.partition('<a href="{href}">{key}</a>')
LIST_MIDDLE, _, LIST_TAIL = _rest.partition("{title}")


def _memo(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fn`` escaped, once per value for one page (its rows share a few states, ministries
    and due times)."""
    seen: dict[Any, str] = {}

    def once(value: Any) -> str:
        found = seen.get(value)
        if found is None:
            found = seen[value] = html_text(fn(value))
        return found

    return once


@bp.get("/worklist")
@login_required
def worklist() -> str:
    """The open deadlines, soonest first: a ministry's own, a forum lead's forum's, or all."""
    w = web()
    who = w.runtime.directory.actor(g.actor)
    lead = who.ministry if who.role == "ministry" else None
    forum = who.forum if who.role == "forum_lead" else None  # a forum lead: its forum only
    page = max(1, reads.query_number(plain_args().get("page")) or 1)
    # one row more than shown says whether there is a next page, without counting them all
    rows = reads.open_deadlines(
        w.runtime,
        w.now(),
        lead=lead,
        themenforum=forum,
        limit=WORKLIST_ROWS + 1,
        offset=(page - 1) * WORKLIST_ROWS,
    )
    link = proposal_link_builder()
    state = _memo(lambda name: state_label(w.definition, name))
    lead_of, label, due = _memo(str), _memo(str), _memo(berlin)
    around: dict[tuple[Any, ...], tuple[str, str]] = {}  # a row's markup before and after its link
    shown = []
    for r in rows[:WORKLIST_ROWS]:
        overdue = r["overdue"]
        shared = (r["label"], r["due_at"], overdue, r["lead"], r["state"])
        parts = around.get(shared)
        if parts is None:
            parts = around[shared] = (
                WORKLIST_HEAD.format(overdue_class=' class="overdue"' if overdue else ""),
                WORKLIST_TAIL.format(
                    label=label(r["label"]),
                    due=due(r["due_at"]),
                    situation="<strong>überfällig</strong>" if overdue else "offen",
                    lead=lead_of(r["lead"]),
                    state=state(r["state"]),
                ),
            )
        shown.append(f"{parts[0]}{link(r['key'])}{parts[1]}")
    return render_template(
        "proposals/worklist.html",
        rows=shown,
        table=Markup("".join(shown)),
        page=page,
        first=(page - 1) * WORKLIST_ROWS + 1,
        more=len(rows) > WORKLIST_ROWS,
    )


@bp.get("/proposals")
@login_required
def proposal_list() -> Any:
    """A page of the filtered, sorted list; ``format=csv|json`` the whole list as a file."""
    w = web()
    args = plain_args()
    query = reads.ListQuery.from_args(args)
    fmt = args.get("format")
    try:  # an unknown definition version is an error, as in the CLI and the API
        if fmt in ("csv", "json"):
            return _download(reads.iter_proposal_rows(w.runtime, query), fmt)
        found = reads.proposal_page(w.runtime, query)
    except InvalidInput:
        version = query.definition_version
        return error_page(422, f"Die Prozessversion {version} ist nicht registriert.")
    link = proposal_link_builder()
    state = _memo(lambda name: state_label(w.definition, name))
    lead_of, number, cost = _memo(str), _memo(str), _memo(euro)
    after: dict[tuple[Any, ...], str] = {}  # a row's markup after its title
    rows = []
    for r in found.rows:
        shared = (r["state"], r["handlungsfeld"], r["themenforum"], r["lead"], r["cost_estimate"])
        tail = after.get(shared)
        if tail is None:
            tail = after[shared] = LIST_TAIL.format(
                state=state(r["state"]),
                handlungsfeld=number(r["handlungsfeld"]),
                themenforum=number(r["themenforum"]),
                lead=lead_of(r["lead"]),
                cost=cost(r["cost_estimate"]),
            )
        rows.append(f"{LIST_HEAD}{link(r['key'])}{LIST_MIDDLE}{html_text(r['title'])}{tail}")
    return render_template(
        "proposals/list.html",
        table=Markup("".join(rows)),
        total=found.total,
        exact=found.exact,
        query=query,
        pages=found.pages,
        page=found.page,
        options=filter_options(w, query),
    )


MAX_FIXED = 256
"""How many rendered filter choices a process keeps (states, ministries and sorts: dozens)."""


def filter_options(w: Web, query: reads.ListQuery) -> dict[str, Markup]:
    """The ``<option>`` lists of the filter form with the query's choices selected: rendered
    by the macros of ``proposals/_list_options.html`` once per process and chosen value (the
    definition's states, the ministries and the sorts do not change while it runs; the
    limits hook refuses an unknown state or ministry before the view)."""
    choices: dict[str, tuple[object, Callable[[], object]]] = {
        "state": (query.state, lambda: w.definition.states),
        "handlungsfeld": (query.handlungsfeld, tuple),
        "lead": (query.lead, lambda: sorted(w.runtime.directory.ministries)),
        "sort": (query.sort, lambda: reads.SORTS),
    }
    found = {}
    for name, (selected, values) in choices.items():
        html = w.fixed_html.get((name, selected))
        if html is None:
            macro = get_template_attribute("proposals/_list_options.html", name)
            html = Markup(macro(values(), selected))
            if len(w.fixed_html) < MAX_FIXED:
                w.fixed_html[name, selected] = html
        found[name] = html
    return found


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
