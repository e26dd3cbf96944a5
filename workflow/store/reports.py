"""The read model of the public reports: counts, stays, overdue deadlines, last moves.

What ``workflow/audit/reports.py`` and ``asof.py`` derive their figures from, each a
read in the caller's transaction; the grouping into the public status words and the
arithmetic stay there. Streams (history in chain order) run through
:func:`workflow.store.db.stream`, as :mod:`workflow.store.chains`'s do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, func, or_, select, true

from workflow.process.deadline_rules import OPEN
from workflow.store.chains import STREAM_BATCH
from workflow.store.db import AnyRow, stream
from workflow.store.schema import deadlines, funding, history, proposals


def proposal_attributes(conn: Connection) -> Sequence[AnyRow]:
    """Every proposal as ``(id, key, title, handlungsfeld, themenforum, lead,
    cost_estimate)``, in no particular order."""
    return conn.execute(
        select(
            proposals.c.id,
            proposals.c.key,
            proposals.c.title,
            proposals.c.handlungsfeld,
            proposals.c.themenforum,
            proposals.c.lead,
            proposals.c.cost_estimate,
        )
    ).all()


def secured_funding_before(conn: Connection, cutoff: datetime) -> Sequence[AnyRow]:
    """``(proposal_id, sum of amount)`` of the funding lines ``secured`` and recorded
    before ``cutoff``, one row per proposal that has any."""
    return conn.execute(
        select(funding.c.proposal_id, func.sum(funding.c.amount))
        .where(funding.c.status == "secured", funding.c.recorded_at < cutoff)
        .group_by(funding.c.proposal_id)
    ).all()


def state_counts(conn: Connection) -> Sequence[AnyRow]:
    """``(state, handlungsfeld, number of proposals)`` for every pair that has any."""
    stmt = select(proposals.c.state, proposals.c.handlungsfeld, func.count()).group_by(
        proposals.c.state, proposals.c.handlungsfeld
    )
    return conn.execute(stmt).all()


def state_entries(conn: Connection, before: datetime | None = None) -> Iterator[AnyRow]:
    """The entries that name a state (``to_state`` not null) by (chain, seq), streamed,
    as ``(chain, from_state, to_state, at)``; with ``before``, only those at an earlier
    time."""
    stmt = (
        select(history.c.chain, history.c.from_state, history.c.to_state, history.c.at)
        .where(history.c.to_state.is_not(None))
        .where(history.c.at < before if before is not None else true())
        .order_by(history.c.chain, history.c.seq)
    )
    yield from stream(conn, stmt, yield_per=STREAM_BATCH)


def overdue_deadlines(
    conn: Connection, now: datetime, *, historical: bool = False
) -> Sequence[AnyRow]:
    """Deadlines open at ``now`` and due before it, as ``(lead, key, title, kind, state,
    due_at)``, ordered by lead, due time and key.

    Open means status open; with ``historical`` (``now`` a past cut-off),
    created before ``now`` and not closed before it.
    """
    if historical:
        is_open = and_(
            deadlines.c.created_at < now,
            or_(deadlines.c.closed_at.is_(None), deadlines.c.closed_at >= now),
        )
    else:
        is_open = deadlines.c.status == OPEN
    stmt = (
        select(
            proposals.c.lead,
            proposals.c.key,
            proposals.c.title,
            deadlines.c.kind,
            deadlines.c.state,
            deadlines.c.due_at,
        )
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(is_open, deadlines.c.due_at < now)
        .order_by(proposals.c.lead, deadlines.c.due_at, proposals.c.key)
    )
    return conn.execute(stmt).all()


def last_moves(conn: Connection, kinds: Sequence[str]) -> Iterator[AnyRow]:
    """Every proposal by key as ``(key, title, lead, state, definition_id, created_at,
    last_at)``, ``last_at`` the time of its newest entry of one of ``kinds`` (None when it
    has none), streamed."""
    last = (
        select(history.c.chain, func.max(history.c.at).label("last_at"))
        .where(history.c.kind.in_(kinds))
        .group_by(history.c.chain)
        .subquery()
    )
    stmt = (
        select(
            proposals.c.key,
            proposals.c.title,
            proposals.c.lead,
            proposals.c.state,
            proposals.c.definition_id,
            proposals.c.created_at,
            last.c.last_at,
        )
        .join(last, last.c.chain == proposals.c.key, isouter=True)
        .order_by(proposals.c.key)
    )
    yield from conn.execute(stmt)
