"""What ``/readyz`` and ``/metrics`` read from the database, at request time.

Counts only, no personal data: notices by status, the oldest notice still to go out, the
open deadlines past due. The readings and what they mean are :mod:`workflow.app.health`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select

from workflow.process.deadline_rules import OPEN
from workflow.store.db import Connection
from workflow.store.outbox import PENDING, SENDING
from workflow.store.schema import deadlines, outbox, proposals


def notice_counts(conn: Connection) -> dict[str, int]:
    """The number of notices per status that has any (a status without notices is absent)."""
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {str(status): int(n) for status, n in rows}


def oldest_pending_at(conn: Connection) -> datetime | None:
    """When the oldest notice still pending or being sent was made (None: there is none)."""
    query = select(func.min(outbox.c.created_at)).where(outbox.c.status.in_((PENDING, SENDING)))
    found: datetime | None = conn.execute(query).scalar()
    return found


def overdue_deadlines(conn: Connection, now: datetime) -> int:
    """Open deadlines of the proposals' current states that were due before ``now``."""
    query = (
        select(func.count())
        .select_from(deadlines)
        .join(
            proposals,
            and_(
                proposals.c.id == deadlines.c.proposal_id,
                proposals.c.state == deadlines.c.state,
            ),
        )
        .where(deadlines.c.status == OPEN, deadlines.c.due_at < now)
    )
    return int(conn.execute(query).scalar_one())
