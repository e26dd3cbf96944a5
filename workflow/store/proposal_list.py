"""The proposal list as a read model: one query builder for every list of proposals — the
CLI's ``proposal list`` (through :func:`workflow.store.records.proposals_where`), the web's
page and downloads and the API's pages.

Filters, sort and paging run in the database, so that a page costs the same at 10,000 and at
100,000 proposals. A filter by an unknown definition version is an error everywhere
(:func:`definition_ids`), not an empty list in one place and an error in another.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, bindparam, func, literal_column, or_, select

from workflow.errors import InvalidInput
from workflow.store.db import Connection, stream
from workflow.store.direct import Direct
from workflow.store.schema import definitions, proposals


@dataclass(frozen=True)
class ListFilter:
    """What a list keeps: every filter given must hold (None: no filter). ``definition_ids``
    keeps the proposals pinned to one of those definitions (empty: none); ``q`` is a piece of
    the key or the title, in any case."""

    state: str | None = None
    handlungsfeld: int | None = None
    themenforum: int | None = None
    lead: str | None = None
    q: str | None = None
    definition_ids: Collection[int] | None = None


@dataclass(frozen=True)
class ListOrder:
    """The list's order: by ``sort`` (a column of ``proposals``), then by key."""

    sort: str = "key"
    descending: bool = False


# The columns of a list row (``proposal_summary``): not the JSON ``data`` nor the summary text,
# which a list never shows and which cost a JSON parse per row.
LIST_COLUMNS = tuple(
    proposals.c[name]
    for name in (
        "key",
        "title",
        "state",
        "handlungsfeld",
        "themenforum",
        "lead",
        "participating",
        "cost_estimate",
        "row_version",
        "definition_id",
        "state_entered_at",
        "updated_at",
    )
)
# What a row of the web's list page shows (no JSON column, no timestamps to convert).
PAGE_COLUMNS = tuple(
    proposals.c[name]
    for name in ("key", "title", "state", "handlungsfeld", "themenforum", "lead", "cost_estimate")
)
ALL_COLUMNS = tuple(proposals.c)


def definition_ids(conn: Connection, version: int) -> list[int]:
    """The ids of the registered definitions numbered ``version``; InvalidInput naming the
    registered versions when there is none (the CLI's rule, for every list)."""
    rows = conn.execute(select(definitions.c.id, definitions.c.version)).all()
    ids = [row.id for row in rows if row.version == version]
    if not ids:
        known = ", ".join(str(v) for v in sorted({row.version for row in rows}))
        raise InvalidInput(f"unknown definition version {version} (registered: {known})")
    return ids


def conditions(kept: ListFilter) -> list[Any]:
    """The WHERE conditions of ``kept``."""
    c = proposals.c
    found: list[Any] = []
    if kept.definition_ids is not None:
        found.append(c.definition_id.in_(list(kept.definition_ids)))
    if kept.state is not None:
        found.append(c.state == kept.state)
    if kept.handlungsfeld is not None:
        found.append(c.handlungsfeld == kept.handlungsfeld)
    if kept.themenforum is not None:
        found.append(c.themenforum == kept.themenforum)
    if kept.lead is not None:
        found.append(c.lead == kept.lead)
    if kept.q:
        needle = kept.q.lower()
        found.append(
            or_(
                func.lower(c.key).contains(needle, autoescape=True),
                func.lower(c.title).contains(needle, autoescape=True),
            )
        )
    return found


def list_select(
    kept: ListFilter,
    order: ListOrder = ListOrder(),
    *,
    offset: int = 0,
    limit: int | None = None,
    columns: tuple[Any, ...] = LIST_COLUMNS,
) -> Any:
    """The SELECT of the list: ``columns`` of the proposals ``kept`` in ``order``, ``limit`` of
    them (all: None) from ``offset``."""
    stmt = select(*columns).where(*conditions(kept))
    key = proposals.c.key.desc() if order.descending else proposals.c.key
    if order.sort == "key":  # the key is unique: no tie to break (and no second sort pass)
        stmt = stmt.order_by(key)
    else:
        column = proposals.c[order.sort]
        stmt = stmt.order_by(column.desc() if order.descending else column.asc(), key)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt.offset(offset) if offset else stmt


def list_rows(
    conn: Connection,
    kept: ListFilter,
    order: ListOrder = ListOrder(),
    *,
    offset: int = 0,
    limit: int | None = None,
    columns: tuple[Any, ...] = LIST_COLUMNS,
) -> list[RowMapping]:
    """The rows of :func:`list_select`."""
    stmt = list_select(kept, order, offset=offset, limit=limit, columns=columns)
    return list(conn.execute(stmt).mappings())


def stream_rows(
    conn: Connection, kept: ListFilter, order: ListOrder = ListOrder()
) -> Iterator[RowMapping]:
    """Every row of the list, one after the other from the database (a server-side cursor on
    PostgreSQL, in a transaction even inside a shared read: the whole list is never in
    memory). The option is the statement's: the connection's other statements stay as they
    are."""
    yield from stream(conn, list_select(kept, order), yield_per=500).mappings()


def count_upto(conn: Connection, kept: ListFilter, horizon: int) -> int:
    """How many proposals ``kept`` holds, counted up to ``horizon + 1`` and no further (a
    COUNT over every matching row grows with the table)."""
    counted = select(proposals.c.id).where(*conditions(kept)).limit(horizon + 1).subquery()
    return int(conn.execute(select(func.count()).select_from(counted)).scalar_one())


# The filters a page's statement takes as parameters (``q`` and ``definition_ids`` do not:
# a LIKE pattern escaped in Python and an IN list of any length).
_EQUAL = ("state", "handlungsfeld", "themenforum", "lead")
# One prebuilt statement per shape of a page's query (which filters, sort, direction): built
# and compiled once per process, not per request (a few dozen shapes at most).
_PAGES: dict[tuple[Any, ...], Direct] = {}


def _page_statement(kept: ListFilter, order: ListOrder, columns: tuple[Any, ...]) -> Any:
    """The SELECT of :func:`page_with_count`: ``columns`` and ``total_upto`` (see there)."""
    c = proposals.c
    if kept.q or kept.definition_ids is not None:
        where = conditions(kept)  # with their values, built for this query only
    else:
        where = [c[name] == bindparam(name) for name in _EQUAL if getattr(kept, name) is not None]
    # ``SELECT 1``: the count reads the filter's index alone (SQLite: no row id per entry)
    counted = (
        select(literal_column("1"))
        .select_from(proposals)
        .where(*where)
        .limit(bindparam("horizon"))
        .subquery()
    )
    total = select(func.count()).select_from(counted).scalar_subquery().label("total_upto")
    stmt = list_select(ListFilter(), order, columns=columns).where(*where).add_columns(total)
    return stmt.limit(bindparam("size")).offset(bindparam("skip"))


def page_with_count(
    conn: Connection,
    kept: ListFilter,
    order: ListOrder,
    *,
    offset: int,
    limit: int,
    horizon: int,
    columns: tuple[Any, ...] = PAGE_COLUMNS,
) -> tuple[list[dict[str, Any]], int | None]:
    """``limit`` rows of the list from ``offset`` (``columns`` of them) and, in the same
    statement, what :func:`count_upto` says for ``horizon``: one statement, one round trip on
    PostgreSQL, where the page and its count took two. The count is None when the page is
    empty (a page past the end): it comes with the rows; ask :func:`count_upto` then."""
    values: dict[str, Any] = {"horizon": horizon + 1, "size": limit, "skip": offset}
    if kept.q or kept.definition_ids is not None:
        stmt = _page_statement(kept, order, columns)
        found: list[Any] = list(conn.execute(stmt, values).mappings())
    else:
        shape = (
            tuple(name for name in _EQUAL if getattr(kept, name) is not None),
            order.sort,
            order.descending,
            tuple(col.name for col in columns),
        )
        statement = _PAGES.get(shape)
        if statement is None:
            statement = _PAGES[shape] = Direct(_page_statement(kept, order, columns))
        for name in shape[0]:
            values[name] = getattr(kept, name)
        found = statement.mappings(conn, values)
    if not found:
        return [], None
    total = int(found[0]["total_upto"])
    rows = []
    for found_row in found:
        # Direct's rows are dicts of their own (made for this call): the total taken out of
        # each, not each copied first; SQLAlchemy's mappings are copied
        row = found_row if type(found_row) is dict else dict(found_row)
        del row["total_upto"]
        rows.append(row)
    return rows, total
