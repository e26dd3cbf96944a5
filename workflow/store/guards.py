"""The SQL the guards run inside a transition (through the engine's guard context).

Each function reads one proposal's facts in the caller's transaction and writes nothing.
The statements are built per call, as they were in the guard context: a guard that needs
one of them runs at most once per transition, and only when the definition names it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select

from workflow.process.deadline_rules import OPEN
from workflow.store.schema import deadlines, funding, statements


def statement_groups(conn: Connection, proposal_id: int) -> frozenset[str]:
    """The party groups that have recorded a statement on the proposal (none: empty)."""
    stmt = (
        select(statements.c.party_group).distinct().where(statements.c.proposal_id == proposal_id)
    )
    return frozenset(conn.execute(stmt).scalars())


def secured_funding(conn: Connection, proposal_id: int) -> Decimal:
    """The sum of the proposal's funding lines with status ``secured`` (0 when none)."""
    stmt = select(func.coalesce(func.sum(funding.c.amount), 0)).where(
        funding.c.proposal_id == proposal_id, funding.c.status == "secured"
    )
    return Decimal(conn.execute(stmt).scalar_one())


def deadline_passed(
    conn: Connection, proposal_id: int, state: str, kind: str, now: datetime
) -> bool:
    """True when an open deadline of ``kind``, belonging to ``state``, was due at or before
    ``now``."""
    stmt = select(deadlines.c.id).where(
        deadlines.c.proposal_id == proposal_id,
        deadlines.c.kind == kind,
        deadlines.c.state == state,
        deadlines.c.status == OPEN,
        deadlines.c.due_at <= now,
    )
    return conn.execute(stmt.limit(1)).first() is not None
