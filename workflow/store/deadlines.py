"""The SQL of the deadline effect: close, meet, cancel and insert deadlines and their rungs.

Statements are built once (the effect runs in every transition's transaction). Each write has
one function that takes any number of rows: one row runs on the SQLite cursor
(:class:`~workflow.store.direct.Direct`, with plain ``=``), many rows with expanding ``IN``
lists per :data:`~workflow.store.direct.CHUNK` — an expanding list re-renders the SQL on every
execution, which cost a single advance more than the query itself.

On PostgreSQL each statement is a round trip: for one proposal, closing (or meeting) its
deadlines cancels their rungs in the same statement, and a new deadline goes in with its
rungs in one statement (data-modifying CTEs) — two round trips where there were four.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select, text, update

from workflow.process.deadline_rules import CLOSED, MET, OPEN
from workflow.store.direct import CHUNK, Direct
from workflow.store.schema import UTCDateTime, deadline_rungs, deadlines


def _closing(*where: Any) -> Any:
    return (
        update(deadlines)
        .where(*where, deadlines.c.status == OPEN)
        .values(status=bindparam("new_status"), closed_at=bindparam("closed"))
    )


def _cancelling(*where: Any) -> Any:
    return (
        update(deadline_rungs)
        .where(*where, deadline_rungs.c.fired_at.is_(None), deadline_rungs.c.cancelled_at.is_(None))
        .values(cancelled_at=bindparam("cancelled"))
    )


_CLOSE_OPEN_OF = _closing(deadlines.c.proposal_id.in_(bindparam("pids", expanding=True))).returning(
    deadlines.c.id
)
_CLOSE_OPEN_OF_ONE = Direct(
    _closing(deadlines.c.proposal_id == bindparam("pid")).returning(deadlines.c.id)
)


def _and_cancel(closing: Any, *columns: Any) -> Any:
    """PostgreSQL: ``closing`` (an UPDATE of deadlines) and the cancelling of the pending
    rungs of what it closed, in one statement returning ``columns`` of the closed rows."""
    closed = closing.returning(*columns).cte("closed")
    cancelled = _cancelling(deadline_rungs.c.deadline_id.in_(select(closed.c.id))).cte("cancelled")
    return select(*closed.c).add_cte(cancelled)


_CLOSE_AND_CANCEL_ONE = Direct(
    _and_cancel(_closing(deadlines.c.proposal_id == bindparam("pid")), deadlines.c.id)
)

# What meeting a recurring deadline returns: id, proposal, kind, period (SEQUENCE) and the
# first deadline of its series (one calendar entry for all periods; migration 0007).
_MET = (
    deadlines.c.id,
    deadlines.c.proposal_id,
    deadlines.c.kind,
    deadlines.c.sequence,
    func.coalesce(deadlines.c.series_id, deadlines.c.id),
)
_MEET_OPEN_OF = _closing(
    deadlines.c.proposal_id.in_(bindparam("pids", expanding=True)),
    deadlines.c.kind.in_(bindparam("kinds", expanding=True)),
).returning(*_MET)
_MEETING_ONE = _closing(
    deadlines.c.proposal_id == bindparam("pid"), deadlines.c.kind == bindparam("one_kind")
)
_MEET_OPEN_OF_ONE = Direct(_MEETING_ONE.returning(*_MET))
_MEET_AND_CANCEL_ONE = Direct(_and_cancel(_MEETING_ONE, *_MET[:4], _MET[4].label("first")))


_CANCEL = _cancelling(deadline_rungs.c.deadline_id.in_(bindparam("ids", expanding=True)))


_CANCEL_ONE = Direct(_cancelling(deadline_rungs.c.deadline_id == bindparam("one_id")))
_INSERT_DEADLINES = insert(deadlines).returning(deadlines.c.id, sort_by_parameter_order=True)
_INSERT_DEADLINE = Direct(insert(deadlines))  # one row: its key without RETURNING
_INSERT_RUNGS = Direct(insert(deadline_rungs))
_MAX_DEADLINE_ID = select(func.coalesce(func.max(deadlines.c.id), 0))
_DEADLINES_AFTER = select(
    deadlines.c.id, deadlines.c.proposal_id, deadlines.c.kind, deadlines.c.entry_seq
).where(deadlines.c.id > bindparam("after"))


# Built once: the notices of every transition ask for these. The IN list expands (and
# re-renders the SQL per execution), so one proposal gets a plain ``=``.
_OPEN_DEADLINE_COLUMNS = (
    deadlines.c.id,
    deadlines.c.proposal_id,
    deadlines.c.state,
    deadlines.c.kind,
    deadlines.c.due_at,
    deadlines.c.sequence,
)
_OPEN_DEADLINES, _OPEN_DEADLINES_ONE = (
    select(*_OPEN_DEADLINE_COLUMNS)
    .where(which, deadlines.c.status == OPEN)
    .order_by(deadlines.c.due_at, deadlines.c.id)
    for which in (
        deadlines.c.proposal_id.in_(bindparam("pids", expanding=True)),
        deadlines.c.proposal_id == bindparam("pid"),
    )
)


_OPEN_DEADLINES_ONE_DIRECT = Direct(_OPEN_DEADLINES_ONE)


def open_of(
    conn: Connection, proposal_ids: Iterable[int]
) -> list[tuple[int, int, str, str, datetime, int]]:
    """(id, proposal id, state, kind, due_at, sequence) of the open deadlines of
    ``proposal_ids``, soonest first per query; one query per :data:`CHUNK` proposals."""
    wanted = sorted(proposal_ids)
    found: list[tuple[Any, ...]] = []
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i : i + CHUNK]
        if len(chunk) == 1:
            found += _OPEN_DEADLINES_ONE_DIRECT.all(conn, {"pid": chunk[0]})
        else:
            found += [tuple(r) for r in conn.execute(_OPEN_DEADLINES, {"pids": chunk})]
    return found


def close_open(conn: Connection, proposal_ids: Sequence[int], now: datetime) -> list[int]:
    """Close every open deadline of ``proposal_ids`` (their state was left) and cancel
    their pending rungs (:func:`cancel_rungs`); return the ids of the closed deadlines."""
    closing = {"new_status": CLOSED, "closed": now}
    if len(proposal_ids) == 1:
        one = {"pid": proposal_ids[0], **closing}
        if conn.dialect.name == "postgresql":
            return [int(i) for (i,) in _CLOSE_AND_CANCEL_ONE.all(conn, {**one, "cancelled": now})]
        closed = [i for (i,) in _CLOSE_OPEN_OF_ONE.all(conn, one)]
    else:
        closed = []
        for i in range(0, len(proposal_ids), CHUNK):
            params = {"pids": list(proposal_ids[i : i + CHUNK]), **closing}
            closed += conn.execute(_CLOSE_OPEN_OF, params).scalars()
    cancel_rungs(conn, closed, now)
    return closed


def meet_open(
    conn: Connection, proposal_ids: Sequence[int], kinds: Sequence[str], now: datetime
) -> list[tuple[int, int, str, int, int]]:
    """Mark the open deadlines of ``kinds`` of ``proposal_ids`` as met (a recurring reset)
    and cancel their pending rungs (:func:`cancel_rungs`).

    Returns (deadline id, proposal id, kind, sequence, first deadline of its series) of each.
    """
    meeting = {"new_status": MET, "closed": now}
    found: list[tuple[int, int, str, int, int]] = []
    if len(proposal_ids) == 1 and len(kinds) == 1 and conn.dialect.name == "postgresql":
        one = {"pid": proposal_ids[0], "one_kind": kinds[0], "cancelled": now, **meeting}
        rows: Any = _MEET_AND_CANCEL_ONE.all(conn, one)
        return [(int(d), int(p), str(k), int(s), int(f)) for d, p, k, s, f in rows]
    for i in range(0, len(proposal_ids), CHUNK):
        chunk = proposal_ids[i : i + CHUNK]
        if len(chunk) == 1 and len(kinds) == 1:
            rows = _MEET_OPEN_OF_ONE.all(conn, {"pid": chunk[0], "one_kind": kinds[0], **meeting})
        else:
            params = {"pids": list(chunk), "kinds": list(kinds), **meeting}
            rows = [tuple(r) for r in conn.execute(_MEET_OPEN_OF, params)]
        found += [(int(d), int(p), str(k), int(s), int(f)) for d, p, k, s, f in rows]
    cancel_rungs(conn, [d for d, *_ in found], now)
    return found


def cancel_rungs(conn: Connection, deadline_ids: Sequence[int], now: datetime) -> None:
    """Cancel the pending rungs of ``deadline_ids`` (their deadline was closed or met)."""
    if not deadline_ids:
        return
    if len(deadline_ids) == 1:
        _CANCEL_ONE.execute(conn, {"one_id": deadline_ids[0], "cancelled": now})
        return
    for i in range(0, len(deadline_ids), CHUNK):
        conn.execute(_CANCEL, {"ids": list(deadline_ids[i : i + CHUNK]), "cancelled": now})


# PostgreSQL: one deadline and its rungs in one statement. The rungs get their ids in the
# order given (the sweep breaks ties between rungs firing at once by id), as insert_rungs'
# executemany gives them.
_INSERT_WITH_RUNGS = Direct(
    text(
        "WITH d AS (INSERT INTO deadlines (proposal_id, proposal_key, kind, state, entry_seq,"
        " due_at, status, sequence, created_at, series_id) VALUES (:proposal_id, :proposal_key,"
        " :kind, :state, :entry_seq, :due_at, :status, :sequence, :created_at, :series_id)"
        " RETURNING id),"
        " r AS (INSERT INTO deadline_rungs (deadline_id, rung, fire_at)"
        " SELECT d.id, x.rung, x.fire_at FROM d,"
        " unnest(CAST(:rung_names AS VARCHAR[]), CAST(:rung_times AS TIMESTAMPTZ[]))"
        " WITH ORDINALITY AS x(rung, fire_at, n) ORDER BY x.n)"  # ids in the rungs' order
        " SELECT id FROM d"
    ).bindparams(bindparam("due_at", type_=UTCDateTime), bindparam("created_at", type_=UTCDateTime))
)


def insert_deadlines(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    rungs: Sequence[Sequence[tuple[str, datetime]]] = (),
) -> list[int]:
    """Insert deadlines and, when given, the rungs of each (``rungs[i]``: the (rung, fire at)
    of ``rows[i]``, as :func:`insert_rungs` would insert them); return the deadlines' ids in
    the order of ``rows``. Each row carries its proposal's ``proposal_key`` (the worklist
    orders by it) besides its ``proposal_id``."""
    if not rows:
        return []
    if len(rows) == 1 and rungs and conn.dialect.name == "postgresql":
        times = UTCDateTime()
        row = {
            **rows[0],
            "rung_names": [name for name, _ in rungs[0]],
            "rung_times": [times.process_bind_param(at, conn.dialect) for _, at in rungs[0]],
        }
        ((new_id,),) = _INSERT_WITH_RUNGS.all(conn, row)
        return [int(new_id)]
    if len(rows) == 1:
        ids = [_INSERT_DEADLINE.lastrowid(conn, rows[0])]
    elif conn.dialect.name == "sqlite":
        ids = _insert_many_sqlite(conn, rows)
    else:
        ids = [int(i) for i in conn.execute(_INSERT_DEADLINES, list(rows)).scalars().all()]
    if rungs:
        insert_rungs(
            conn,
            [
                {"deadline_id": deadline_id, "rung": name, "fire_at": fire_at}
                for deadline_id, of in zip(ids, rungs, strict=True)
                for name, fire_at in of
            ],
        )
    return ids


def insert_rungs(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert deadline rungs (deadline_id, rung, fire_at)."""
    if rows:
        _INSERT_RUNGS.executemany(conn, rows)


def _insert_many_sqlite(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert many deadlines on SQLite; return their ids in the order of ``rows``.

    One executemany on the cursor, then the new ids by their unique key (proposal, kind,
    entry): a writer holds SQLite's only write lock (``BEGIN IMMEDIATE``), so every row above
    the highest id before the insert is one of ours. Cheaper than RETURNING for thousands of
    rows (SQLAlchemy's insertmanyvalues), which PostgreSQL keeps.
    """
    after = int(conn.execute(_MAX_DEADLINE_ID).scalar_one())
    _INSERT_DEADLINE.executemany(conn, rows)
    found = {
        (pid, kind, entry): int(i)
        for i, pid, kind, entry in conn.execute(_DEADLINES_AFTER, {"after": after})
    }
    if len(found) != len(rows):
        raise RuntimeError(f"inserted {len(rows)} deadlines but found {len(found)} new ones")
    return [found[(r["proposal_id"], r["kind"], r["entry_seq"])] for r in rows]


_SERIES = Direct(
    select(func.coalesce(deadlines.c.series_id, deadlines.c.id)).where(
        deadlines.c.id == bindparam("deadline_id")
    )
)


def series_of(conn: Connection, deadline_id: int) -> int:
    """The first deadline of the recurring series ``deadline_id`` belongs to (itself if none).

    Every transition that meets a recurring deadline asks it (a progress report does).
    """
    found = _SERIES.all(conn, {"deadline_id": deadline_id})
    return deadline_id if not found else int(found[0][0])


_BY_ID = select(deadlines.c.id, deadlines.c.kind, deadlines.c.due_at, deadlines.c.sequence)


def deadline_by_id(conn: Connection, deadline_id: int) -> RowMapping:
    """id, kind, due_at and sequence of one deadline (open or not); it must exist
    (``NoResultFound`` otherwise)."""
    return conn.execute(_BY_ID.where(deadlines.c.id == deadline_id)).mappings().one()


# --- moving one deadline (workflow/deadlines/move.py): built per call, a move is rare -------


def open_deadline(conn: Connection, proposal_id: int, kind: str, state: str) -> RowMapping | None:
    """``{"id", "due_at", "sequence"}`` of the open deadline ``kind`` that the proposal's
    entry into ``state`` made, or None."""
    return (
        conn.execute(
            select(deadlines.c.id, deadlines.c.due_at, deadlines.c.sequence).where(
                deadlines.c.proposal_id == proposal_id,
                deadlines.c.kind == kind,
                deadlines.c.state == state,
                deadlines.c.status == OPEN,
            )
        )
        .mappings()
        .first()
    )


def reschedule(conn: Connection, deadline_id: int, due_at: datetime, sequence: int) -> None:
    """Give a deadline a new due time and its calendar entry's new ``sequence``."""
    conn.execute(
        update(deadlines)
        .where(deadlines.c.id == deadline_id)
        .values(due_at=due_at, sequence=sequence)
    )


def rungs_of(conn: Connection, deadline_id: int) -> list[RowMapping]:
    """Every rung row of one deadline (fired, cancelled and pending), in no particular order."""
    return list(
        conn.execute(
            select(deadline_rungs).where(deadline_rungs.c.deadline_id == deadline_id)
        ).mappings()
    )


def add_rung(conn: Connection, deadline_id: int, rung: str, fire_at: datetime) -> None:
    """Insert one pending rung of a deadline."""
    conn.execute(insert(deadline_rungs).values(deadline_id=deadline_id, rung=rung, fire_at=fire_at))


def change_rung(conn: Connection, rung_id: int, **values: Any) -> None:
    """Set ``values`` (``fire_at`` or ``cancelled_at``) on one rung row."""
    conn.execute(update(deadline_rungs).where(deadline_rungs.c.id == rung_id).values(**values))
