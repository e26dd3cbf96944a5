"""The read model of open deadlines: the worklist, ``ruhrflow deadlines`` and a proposal's
rungs.

An open deadline counts only while its proposal is still in the state that made it (a
deadline of a state left is closed by the transition; this also guards a row left open
by a crash of an earlier release). Reads only, in the caller's transaction; what the
rows mean (labels, the next rung's name) is ``workflow/deadlines/queries.py``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from workflow.process.deadline_rules import OPEN
from workflow.store.direct import Direct
from workflow.store.schema import deadline_rungs, deadlines, proposals


def open_deadlines(
    conn: Connection,
    now: datetime,
    *,
    overdue: bool = False,
    due_until: datetime | None = None,
    lead: str | None = None,
    key: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    rungs: bool = True,
    themenforum: int | None = None,
) -> Iterator[Sequence[Any]]:
    """Open deadlines of the proposals' current states, by due time and key, as ``(key,
    lead, state, kind, due_at, sequence, definition_id[, next_at])``, streamed (a page, and
    on SQLite everything, fetched at once on the driver's cursor:
    :class:`~workflow.store.direct.Direct`).

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due after now
    and at or before then; both together keep either. ``lead`` (any case), ``themenforum``
    and ``key`` narrow to one ministry, one forum or one proposal; ``limit`` and ``offset``
    page in the database, in an order without ties (due time, key, the deadline's id: two
    deadlines of one proposal due at the same moment stay in one order from page to page).
    With ``rungs``, ``next_at`` is the time of the deadline's next pending rung (None when
    none is pending), looked up for the rows returned only.
    """
    values: dict[str, Any] = {
        "lead": None if lead is None else lead.upper(),
        "key": key,
        "themenforum": themenforum,
        "now": now if overdue or due_until is not None else None,
        "due_until": due_until,
        "limit": limit,
        "offset": offset or None,
    }
    sqlite = conn.dialect.name == "sqlite"
    shape = (sqlite, rungs, overdue, *(value is not None for value in values.values()))
    sort = sqlite and _from_proposals(conn, values)
    slot = (*shape, sort)
    statement = _STATEMENTS.get(slot)
    if statement is None:
        statement = _STATEMENTS[slot] = Direct(_statement(shape, sort=sort))
    given = {name: value for name, value in values.items() if value is not None}
    if not sqlite:
        if limit is None:  # every open deadline: SQLAlchemy's rows, converted as they are read
            yield from conn.execute(statement.statement, given)
        else:  # a page: on the driver's cursor (Direct), as SQLAlchemy converts it
            yield from statement.all(conn, given)
        return
    # SQLite hands back the times as text, converted here once per distinct text (the
    # rows of a page share a few due times): as UTCDateTime's processor converts them
    process = _time_processor(conn)
    times: dict[str, datetime] = {}
    for row in statement.all(conn, given):
        due_text = row[4]
        due_at = times.get(due_text)
        if due_at is None:
            due_at = times[due_text] = process(due_text)
        if rungs:
            next_at = row[7] if row[7] is None else process(row[7])
            yield (*row[:4], due_at, *row[5:7], next_at)
        else:
            yield (*row[:4], due_at, *row[5:])


# One prebuilt statement per shape of the query (which filters, windows and paging it has):
# built and compiled once per process, not at every worklist page.
_STATEMENTS: dict[tuple[bool, ...], Direct] = {}
_PROCESSORS: dict[str, Callable[[Any], Any]] = {}

# A deadline read from its ministry's proposals and sorted costs SQLite up to about twice
# what walking past one in the due-time index does (each looks its proposal's row up;
# 20,000 proposals: 0.75-3.3 us against 1.5-3.8 us per deadline, measured)
_SORT_COST = 2
_HIGHEST_PROPOSAL = Direct(select(func.max(proposals.c.id)))
_LEADS_UPTO = Direct(
    select(func.count()).select_from(
        select(literal_column("1"))
        .select_from(proposals)
        .where(func.upper(proposals.c.lead) == bindparam("lead"))
        .limit(bindparam("cap"))
        .subquery()
    )
)


def _from_proposals(conn: Connection, values: dict[str, Any]) -> bool:
    """SQLite: whether to read the deadlines from their proposals and sort them — one
    proposal's, and a small ministry's page — rather than walk every open deadline in due
    order (which SQLite chose for one proposal too: 10-19 ms at 20,000 proposals, against
    0.03 ms). PostgreSQL's planner knows a ministry's share (migration 0016)."""
    if values["key"] is not None:
        return True
    return values["lead"] is not None and _few(conn, values)


def _few(conn: Connection, values: dict[str, Any]) -> bool:
    """Whether ministry ``values["lead"]`` has so few proposals that SQLite reads its page
    faster from them (ix_proposals_upper_lead_lead, each one's open deadlines, a sort) than
    by walking the open deadlines in due order until the page is full.

    The walk passes about ``(offset + limit) * n / p`` deadlines for a ministry of ``p`` of
    ``n`` proposals (every deadline when there is no limit), the sort reads about ``p``:
    SQLite keeps no statistics of a ministry's share, so its proposals are counted here, up
    to the count at which the walk is the cheaper one (the highest id stands for ``n``).
    """
    (highest,) = _HIGHEST_PROPOSAL.all(conn, {})[0]
    if not highest:
        return False
    if values["limit"] is None:
        cap = highest // _SORT_COST + 1  # the walk passes every open deadline
    else:
        page = values["limit"] + (values["offset"] or 0)
        cap = math.isqrt(page * highest // _SORT_COST) + 1  # about p * p * _SORT_COST <= page * n
    ((count,),) = _LEADS_UPTO.all(conn, {"lead": values["lead"], "cap": cap})
    return bool(count < cap)


def _time_processor(conn: Connection) -> Callable[[Any], Any]:
    """UTCDateTime's result processor on ``conn``'s dialect, as SQLAlchemy or Direct runs it."""
    dialect = conn.dialect
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        found = deadlines.c.due_at.type.dialect_impl(dialect).result_processor(dialect, None)
        assert found is not None
        _PROCESSORS[dialect.name] = found
    return found


def _statement(shape: tuple[bool, ...], *, sort: bool = False) -> Any:
    """The SELECT of :func:`open_deadlines` for ``shape``, its values as parameters; with
    ``sort``, for SQLite to find the deadlines through their proposals and sort them."""
    sqlite, rungs, overdue, lead, key, themenforum, _now, due_until, limit, offset = shape
    # on SQLite the times as stored (text), converted by open_deadlines
    due_at = (
        type_coerce(deadlines.c.due_at, String).label("due_at") if sqlite else deadlines.c.due_at
    )
    # a correlated subquery on the rungs' unique (deadline_id, rung) index, not a GROUP BY
    # over all rungs
    first_pending = (
        select(func.min(deadline_rungs.c.fire_at))
        .where(
            deadline_rungs.c.deadline_id == deadlines.c.id,
            deadline_rungs.c.fired_at.is_(None),
            deadline_rungs.c.cancelled_at.is_(None),
        )
        .scalar_subquery()
    )
    next_at = (type_coerce(first_pending, String) if sqlite else first_pending).label("next_at")
    stmt = _open(
        lead=bindparam("lead") if lead else None,
        key=bindparam("key") if key else None,
        themenforum=bindparam("themenforum") if themenforum else None,
        by_status=not sort,
    ).add_columns(
        proposals.c.key,
        proposals.c.lead,
        proposals.c.state,
        deadlines.c.kind,
        due_at,
        deadlines.c.sequence,
        proposals.c.definition_id,
        *([next_at] if rungs else []),
    )
    # the proposal's key as copied into the deadline, then the deadline's id (one proposal's
    # deadlines may fall due at the same moment: without it their order, and so which page
    # shows which, was left to the plan): the order of the index on (status, due_at,
    # proposal_key, id), cut at the page, without sorting every deadline due at the same
    # time (a thousand due on one day) after the join
    stmt = stmt.order_by(deadlines.c.due_at, deadlines.c.proposal_key, deadlines.c.id)
    windows = []
    if overdue:
        windows.append(deadlines.c.due_at <= bindparam("now"))
    if due_until:
        after_now = deadlines.c.due_at > bindparam("now")
        windows.append(and_(after_now, deadlines.c.due_at <= bindparam("due_until")))
    if windows:
        stmt = stmt.where(or_(*windows))
    if limit:
        stmt = stmt.limit(bindparam("limit"))
    if offset:
        stmt = stmt.offset(bindparam("offset"))
    return stmt


def _open(
    *, lead: Any = None, key: Any = None, themenforum: Any = None, by_status: bool = True
) -> Select[Any]:
    """Open deadlines of the proposals' current states, joined to their proposal (``lead``
    already in upper case when it is a parameter). Without ``by_status`` SQLite finds no
    index by the status (``+status``): a ministry's deadlines are looked up through its
    proposals instead of walking every open deadline in due order."""
    status: Any = deadlines.c.status
    if not by_status:
        status = UnaryExpression(status, operator=custom_op("+"), type_=status.type)
    stmt = (
        select()
        .select_from(deadlines)
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(status == OPEN, deadlines.c.state == proposals.c.state)
    )
    if lead is not None:
        stmt = stmt.where(
            func.upper(proposals.c.lead) == (lead.upper() if isinstance(lead, str) else lead)
        )
    if key is not None:
        stmt = stmt.where(proposals.c.key == key)
    if themenforum is not None:
        stmt = stmt.where(proposals.c.themenforum == themenforum)
    return stmt


def open_rungs(conn: Connection, key: str) -> Iterator[RowMapping]:
    """The rungs of proposal ``key``'s open deadlines, by deadline, time and rung name, as
    ``{"kind", "sequence", "rung", "fire_at", "fired_at", "late", "cancelled_at"}``;
    one statement."""
    r = deadline_rungs.c
    stmt = (
        _open(lead=None, key=key)
        .join(deadline_rungs, r.deadline_id == deadlines.c.id)
        .add_columns(
            deadlines.c.kind,
            deadlines.c.sequence,
            r.rung,
            r.fire_at,
            r.fired_at,
            r.late,
            r.cancelled_at,
        )
        .order_by(deadlines.c.id, r.fire_at, r.rung)
    )
    yield from conn.execute(stmt).mappings()
