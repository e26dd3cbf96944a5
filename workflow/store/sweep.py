"""The SQL of the deadline sweep (``workflow/deadlines/sweep.py``): due rungs, the locking
read of their proposals, the claim of one rung, and the look-ahead of ``simulate``.

Every function runs in the caller's transaction; only :func:`claim_rung` and
:func:`cancel_rung` write. The rows come back as read-only mappings by column name
(SQLAlchemy's ``RowMapping``). A due rung is one not fired, not cancelled, with
``fire_at <= now``, of an open deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, RowMapping, bindparam, select, update

from workflow.process.deadline_rules import OPEN
from workflow.store.direct import CHUNK, Direct
from workflow.store.schema import deadline_rungs, deadlines, proposals


def _pending(now: Any, *, drive_by_rungs: bool = False) -> list[Any]:
    """Rungs due at ``now`` of open deadlines.

    ``drive_by_rungs``: compare ``status || ''`` instead of ``status``, so that no index on
    ``deadlines.status`` can be used and the planner starts from the partial index on
    pending rungs (``ix_deadline_rungs_due``), looking each deadline up by id. Without it
    SQLite walks every open deadline (the ``(status, due_at)`` prefix of
    ``ix_deadlines_status_due_at_proposal_key_id``) and sorts: 0.4 s per batch at 100,000
    proposals instead of 0.3 ms, growing with the table. SQLite only:
    PostgreSQL already starts from the partial index (nested loop, 7 ms for 200 of 1,000
    due among 200,000), while the expression's unknown selectivity made it hash-join a
    sequential scan of all deadlines (85 ms).
    """
    status = deadlines.c.status.concat("") if drive_by_rungs else deadlines.c.status
    return [
        deadline_rungs.c.fired_at.is_(None),
        deadline_rungs.c.cancelled_at.is_(None),
        deadline_rungs.c.fire_at <= now,
        status == OPEN,
    ]


_RUNGS_OF_DEADLINES = deadline_rungs.join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
_RUNG_COLUMNS = (
    deadline_rungs.c.id.label("rung_id"),
    deadline_rungs.c.rung,
    deadline_rungs.c.fire_at,
    deadlines.c.id.label("deadline_id"),
    deadlines.c.proposal_id,
    deadlines.c.kind.label("deadline"),
    deadlines.c.state.label("deadline_state"),
    deadlines.c.due_at,
)


# Built once: constructing the UPDATE per rung cost ~0.3 ms, a third of firing one.
_CLAIM = (
    update(deadline_rungs)
    .where(
        deadline_rungs.c.id == bindparam("c_id"),
        deadline_rungs.c.fired_at.is_(None),
        deadline_rungs.c.cancelled_at.is_(None),
    )
    .values(fired_at=bindparam("c_at"), late=bindparam("c_late"))
)


def _due_proposals(drive_by_rungs: bool) -> Direct:
    return Direct(
        select(deadlines.c.proposal_id)
        .select_from(_RUNGS_OF_DEADLINES)
        .where(*_pending(bindparam("now"), drive_by_rungs=drive_by_rungs))
        .order_by(deadline_rungs.c.fire_at, deadline_rungs.c.id)
        .limit(bindparam("limit", type_=Integer))
    )


# Built once (a tick asks at least twice, the demo two thousand times), run on SQLite's
# cursor: by the dialect's drive_by_rungs (see _pending).
_DUE_PROPOSALS = {True: _due_proposals(True), False: _due_proposals(False)}


def due_proposal_ids(conn: Connection, now: datetime, limit: int) -> list[int]:
    """The proposals of the ``limit`` rungs due soonest at ``now`` (by fire_at, rung id),
    sorted by id and without repeats; empty when nothing is due."""
    statement = _DUE_PROPOSALS[conn.dialect.name == "sqlite"]
    rows = statement.all(conn, {"now": now, "limit": limit})
    return sorted({proposal_id for (proposal_id,) in rows})


_LOCK = (
    select(proposals)
    .where(proposals.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(proposals.c.id)
)
_LOCK_SKIP_LOCKED = _LOCK.with_for_update(skip_locked=True)
_DUE_RUNGS = (
    select(*_RUNG_COLUMNS)
    .select_from(_RUNGS_OF_DEADLINES)
    .where(
        *_pending(bindparam("now")), deadlines.c.proposal_id.in_(bindparam("ids", expanding=True))
    )
    .order_by(deadlines.c.proposal_id, deadline_rungs.c.fire_at, deadline_rungs.c.id)
)  # both built once, the id lists as expanding parameters


def lock_proposals(conn: Connection, proposal_ids: Sequence[int]) -> dict[int, RowMapping]:
    """The proposal rows of ``proposal_ids`` by id, read in id order (the order transitions
    lock them). PostgreSQL locks them ``FOR UPDATE SKIP LOCKED``: a row another transaction
    holds is left out (another sweeper handles it); SQLite's write transaction already
    excludes other writers."""
    locking = _LOCK_SKIP_LOCKED if conn.dialect.name == "postgresql" else _LOCK
    rows = conn.execute(locking, {"ids": list(proposal_ids)}).mappings()
    return {row["id"]: row for row in rows}


def due_rungs(conn: Connection, now: datetime, proposal_ids: Iterable[int]) -> list[RowMapping]:
    """The rungs due at ``now`` of ``proposal_ids``, by proposal, fire_at and rung id.

    Columns: rung_id, rung, fire_at, deadline_id, proposal_id, deadline (its kind),
    deadline_state, due_at.
    """
    params = {"now": now, "ids": sorted(proposal_ids)}
    return list(conn.execute(_DUE_RUNGS, params).mappings())


def claim_rung(conn: Connection, rung_id: int, now: datetime, *, late: bool) -> bool:
    """Mark a rung fired at ``now`` (``late`` as given); False when it was fired or
    cancelled already (by another sweeper, or a transition that left its state)."""
    claimed = conn.execute(_CLAIM, {"c_id": rung_id, "c_at": now, "c_late": late}).rowcount
    return bool(claimed == 1)


def cancel_rung(conn: Connection, rung_id: int, now: datetime) -> None:
    """Cancel one rung at ``now`` (its proposal has left the deadline's state)."""
    conn.execute(
        update(deadline_rungs).where(deadline_rungs.c.id == rung_id).values(cancelled_at=now)
    )


def pending_rungs(conn: Connection, until: datetime) -> list[RowMapping]:
    """Every rung due by ``until`` (the columns of :func:`due_rungs`), by fire_at and rung
    id; for a look-ahead that writes nothing."""
    stmt = (
        select(*_RUNG_COLUMNS)
        .select_from(_RUNGS_OF_DEADLINES)
        .where(*_pending(until))
        .order_by(deadline_rungs.c.fire_at, deadline_rungs.c.id)
    )
    return list(conn.execute(stmt).mappings())


def proposals_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, RowMapping]:
    """Proposal rows by id (no locks); one query per :data:`CHUNK` ids."""
    wanted = sorted(ids)
    rows: dict[int, RowMapping] = {}
    for i in range(0, len(wanted), CHUNK):
        stmt = select(proposals).where(proposals.c.id.in_(wanted[i : i + CHUNK]))
        rows.update({r["id"]: r for r in conn.execute(stmt).mappings()})
    return rows
