"""The read model of the weekly digest: every proposal's place, the transitions of a
week, the deadlines due soon — what ``workflow/notices/digest.py`` groups per ministry.

Reads only, in the caller's transaction; the rows stream as the caller iterates (it
looks up a definition per row on the same connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Connection, RowMapping, select

from workflow.process.deadline_rules import OPEN
from workflow.store.schema import deadlines, history, proposals


def proposal_places(conn: Connection) -> Iterator[RowMapping]:
    """Every proposal by key as ``{"key", "title", "lead", "state", "definition_id"}``."""
    stmt = select(
        proposals.c.key, proposals.c.title, proposals.c.lead, proposals.c.state,
        proposals.c.definition_id,
    ).order_by(proposals.c.key)  # fmt: skip
    yield from conn.execute(stmt).mappings()


def transitions_between(conn: Connection, start: datetime, end: datetime) -> list[RowMapping]:
    """The ``transition`` entries of proposal chains recorded in [start, end), by (at,
    chain, seq), as ``{"chain", "trigger", "to_state", "actor_ref", "at", "title",
    "lead", "definition_id"}`` (the last three the proposal's)."""
    stmt = (
        select(
            history.c.chain, history.c.trigger, history.c.to_state, history.c.actor_ref,
            history.c.at, proposals.c.title, proposals.c.lead, proposals.c.definition_id,
        )
        .join(proposals, proposals.c.key == history.c.chain)
        .where(history.c.kind == "transition", history.c.at >= start, history.c.at < end)
        .order_by(history.c.at, history.c.chain, history.c.seq)
    )  # fmt: skip
    return list(conn.execute(stmt).mappings())


def deadlines_due_between(
    conn: Connection, after: datetime, before: datetime
) -> Iterator[RowMapping]:
    """Open deadlines of the proposals' current states due in (after, before), by due time
    and key, as ``{"kind", "due_at", "key", "title", "lead", "definition_id"}``."""
    stmt = (
        select(
            deadlines.c.kind, deadlines.c.due_at, proposals.c.key, proposals.c.title,
            proposals.c.lead, proposals.c.definition_id,
        )
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(
            deadlines.c.status == OPEN,
            deadlines.c.state == proposals.c.state,
            deadlines.c.due_at > after,
            deadlines.c.due_at < before,
        )
        .order_by(deadlines.c.due_at, proposals.c.key)
    )  # fmt: skip
    yield from conn.execute(stmt).mappings()
