"""What the web pages show: the CLI's read models, filtered, sorted and paged for a browser.

The JSON of ``proposal show``, ``triggers`` and ``history`` comes from the CLI's own
functions, and list rows from the same ``proposal_summary`` as ``proposal list``, so the web
and the CLI cannot drift apart. The list filters, sorts and pages in the database, so a page
costs the same at 10,000 and at 100,000 proposals. Engine modules outside the top-level
``workflow`` package are imported here only, inside the functions, so that moving them
touches this one file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflow.app.reads import history_rows, show_detail, trigger_rows
from workflow.app.runtime import Runtime
from workflow.inputs import IntegerLimit, capped_whole_number
from workflow.store import limits, proposal_list
from workflow.store.db import Connection
from workflow.store.proposal_list import ListFilter, ListOrder
from workflow.store.proposal_notices import notices_of as notice_rows

SORTS = {
    "key": "Schlüssel",
    "title": "Titel",
    "state": "Status",
    "lead": "Federführung",
    "updated_at": "Letzte Änderung",
}
PAGE_SIZE = 50


MAX_QUERY_NUMBER = 2**31 - 1
"""The largest number a query string's page or filter takes: a larger one stands for this
(no page or id is that large), so that it reaches the database as an integer both SQLite and
PostgreSQL take, and a page's offset stays far inside 64 bits."""


def query_number(raw: str | None, column: IntegerLimit | None = None) -> int | None:
    """A whole number of digits 0-9 from a query string, at most :data:`MAX_QUERY_NUMBER`
    (or the largest value of the integer ``column`` it is compared with: past it, it could
    match no row, and PostgreSQL would refuse it); None when absent or not such a number."""
    largest = MAX_QUERY_NUMBER if column is None else column.high
    number = capped_whole_number((raw or "").strip(), largest)
    return None if number is None else min(number, largest)


@dataclass(frozen=True)
class ListQuery:
    """The filters, sort and page of the proposal list (from the query string)."""

    state: str | None = None
    handlungsfeld: int | None = None
    themenforum: int | None = None
    lead: str | None = None
    q: str | None = None
    definition_version: int | None = None
    sort: str = "key"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListQuery:
        """Parse a query string leniently: an unusable value is ignored, not an error."""

        def number(name: str, column: IntegerLimit | None = None) -> int | None:
            return query_number(args.get(name), column)

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:200] or None

        sort = args.get("sort") or "key"
        return cls(
            state=text("state"),
            handlungsfeld=number("handlungsfeld", limits.PROPOSAL_HANDLUNGSFELD),
            themenforum=number("themenforum", limits.PROPOSAL_THEMENFORUM),
            lead=text("lead"),
            q=text("q"),
            definition_version=number("definition_version", limits.DEFINITION_VERSION),
            sort=sort if sort in SORTS else "key",
            descending=args.get("order") == "desc",
            page=max(1, number("page") or 1),
        )

    def args(self, **override: Any) -> dict[str, Any]:
        """The query string of this query (with ``override``), without empty values."""
        values = {
            "state": self.state,
            "handlungsfeld": self.handlungsfeld,
            "themenforum": self.themenforum,
            "lead": self.lead,
            "q": self.q,
            "definition_version": self.definition_version,
            "sort": None if self.sort == "key" else self.sort,
            "order": "desc" if self.descending else None,
            "page": None if self.page == 1 else self.page,
        }
        values.update(override)
        return {k: v for k, v in values.items() if v is not None}


COUNT_AHEAD = 1_000
"""The list counts matching proposals up to this many past the shown page, no further: an
exact total below it, "more than" above it, so that a page costs the same at 10,000 and at
100,000 proposals (a COUNT over every matching row grows with the table)."""


def _kept(conn: Connection, query: ListQuery) -> ListFilter:
    """The store's filter of ``query``: an unknown definition version is InvalidInput, as in
    the CLI (it was an empty list here)."""
    ids = None
    if query.definition_version is not None:
        ids = proposal_list.definition_ids(conn, query.definition_version)
    return ListFilter(
        state=query.state,
        handlungsfeld=query.handlungsfeld,
        themenforum=query.themenforum,
        lead=query.lead,
        q=query.q,
        definition_ids=ids,
    )


def _order(query: ListQuery) -> ListOrder:
    return ListOrder(sort=query.sort, descending=query.descending)


def proposal_rows(
    runtime: Runtime, query: ListQuery, *, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The proposals matching ``query``, sorted (``limit`` of them from ``offset``, or all):
    the rows of ``proposal list --format json``."""
    from workflow.engine.records import proposal_summary
    from workflow.store.repo import definition_versions

    with runtime.store.read() as conn:
        versions = definition_versions(conn)
        found = proposal_list.list_rows(
            conn, _kept(conn, query), _order(query), offset=offset, limit=limit
        )
        return [proposal_summary(r, versions) for r in found]


def iter_proposal_rows(runtime: Runtime, query: ListQuery) -> Iterator[dict[str, Any]]:
    """Every row of :func:`proposal_rows`, one after the other from the database (for the
    downloads: a server-side cursor on PostgreSQL, so the whole list is never in memory).
    The query is checked at once (an unknown definition version raises here), the rows are
    read when iterated."""
    with runtime.store.read() as conn:
        kept = _kept(conn, query)
    return _streamed(runtime, kept, _order(query))


def _streamed(runtime: Runtime, kept: ListFilter, order: ListOrder) -> Iterator[dict[str, Any]]:
    from workflow.engine.records import proposal_summary
    from workflow.store.repo import definition_versions

    with runtime.store.read() as conn:
        versions = definition_versions(conn)
        for r in proposal_list.stream_rows(conn, kept, order):
            yield proposal_summary(r, versions)


@dataclass(frozen=True)
class ListPage:
    """One page of the proposal list. ``total`` is exact when ``exact``; otherwise there are
    more than ``total`` matching proposals (see :data:`COUNT_AHEAD`), and more than
    ``pages`` pages."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool
    page: int
    pages: int


def proposal_page(runtime: Runtime, query: ListQuery, size: int | None = None) -> ListPage:
    """One page of the list, paged in the database, with the total counted up to
    :data:`COUNT_AHEAD` rows past the page, both in one statement. Its rows hold what the page
    shows: key, title, state, handlungsfeld, themenforum, lead and cost_estimate (a
    ``Decimal``)."""
    size = size or PAGE_SIZE
    skip = (query.page - 1) * size
    horizon = skip + max(COUNT_AHEAD, size)
    with runtime.store.read() as conn:
        kept = _kept(conn, query)
        order = _order(query)
        rows, seen = proposal_list.page_with_count(
            conn, kept, order, offset=skip, limit=size, horizon=horizon
        )
        if seen is None:  # no row on this page: past the end (or nothing matches)
            seen = 0 if skip == 0 else proposal_list.count_upto(conn, kept, horizon)
        exact = seen <= horizon
        total = seen if exact else horizon
        pages = max(1, -(-total // size))
        page = min(query.page, pages)
        if page != query.page:  # past the last page: the last page instead
            rows, _ = proposal_list.page_with_count(
                conn, kept, order, offset=(page - 1) * size, limit=size, horizon=horizon
            )
    return ListPage(rows=rows, total=total, exact=exact, page=page, pages=pages)


def detail(runtime: Runtime, key: str) -> dict[str, Any]:
    """``proposal show --format json``."""
    return show_detail(runtime, key)


def history(runtime: Runtime, key: str) -> list[dict[str, Any]]:
    """``history --format json``."""
    return history_rows(runtime, key)


def triggers(
    runtime: Runtime,
    key: str,
    actor: str,
    now: datetime,
    fields: Mapping[str, Any] | None = None,
    comment: str | None = None,
) -> list[dict[str, Any]]:
    """``triggers --format json`` for ``actor``, and per option which check blocks it for
    each reason (``blocked_kinds``: a page tells input it asks for from other blockers)."""
    options = runtime.engine.triggers(key, actor=actor, now=now, fields=fields, comment=comment)
    return [
        {**row, "blocked_kinds": list(o.blocked_kinds)}
        for row, o in zip(trigger_rows(options), options, strict=True)
    ]


def open_deadlines(
    runtime: Runtime,
    now: datetime,
    *,
    lead: str | None = None,
    key: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    themenforum: int | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (``ruhrflow deadlines``): overdue first, then due soonest (soonest
    first is both: an overdue deadline was due before any that is not). Without the next
    rung, which no page shows. ``themenforum`` narrows to one forum (a forum lead's)."""
    from workflow.deadlines.queries import list_open_deadlines

    return list_open_deadlines(
        runtime.store,
        runtime.machines,
        now,
        lead=lead,
        themenforum=themenforum,
        key=key,
        limit=limit,
        offset=offset,
        rungs=False,
    )


def notices_of(runtime: Runtime, key: str) -> list[dict[str, Any]]:
    """The notices of one proposal with their delivery status, newest first."""
    with runtime.store.read() as conn:
        rows = [dict(r) for r in notice_rows(conn, key)]
    for r in rows:
        r["to"] = [x.get("address", "") for x in r.pop("recipients") or []]
    return rows
