"""The reads that check a notice's provenance: the proposal, history entries, a fired rung
and a deadline a claimed outbox row claims as its cause (``workflow/notices/provenance.py``
decides what they prove).

Reads only, in the caller's (the delivery worker's write) transaction; each row comes back
as a plain dict or ``None`` when there is none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from workflow.store.db import Connection
from workflow.store.schema import deadline_rungs, deadlines, history, proposals


def proposal_by_id(conn: Connection, proposal_id: int) -> dict[str, Any] | None:
    """Every column of the proposal ``proposal_id``, or None if there is none."""
    found = conn.execute(select(proposals).where(proposals.c.id == proposal_id)).mappings().first()
    return dict(found) if found is not None else None


def history_entries(conn: Connection, chain: str, **where: Any) -> list[dict[str, Any]]:
    """The entries of ``chain`` whose columns equal ``where`` (``seq=3``, ``kind="…"``),
    oldest first, every column each. An unknown column name is a ``KeyError``."""
    stmt = select(history).where(history.c.chain == chain)
    for name, value in where.items():
        stmt = stmt.where(history.c[name] == value)
    return [dict(e) for e in conn.execute(stmt.order_by(history.c.seq)).mappings()]


def rung_with_deadline(conn: Connection, rung_id: int) -> dict[str, Any] | None:
    """Every column of the rung ``rung_id``, with its deadline's ``kind`` as ``deadline`` and
    its ``proposal_id``; None if there is no such rung."""
    found = (
        conn.execute(
            select(deadline_rungs, deadlines.c.kind.label("deadline"), deadlines.c.proposal_id)
            .join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
            .where(deadline_rungs.c.id == rung_id)
        )
        .mappings()
        .first()
    )
    return dict(found) if found is not None else None


def deadline_row(conn: Connection, deadline_id: int) -> dict[str, Any] | None:
    """Every column of the deadline ``deadline_id`` (open or not), or None."""
    found = conn.execute(select(deadlines).where(deadlines.c.id == deadline_id)).mappings().first()
    return dict(found) if found is not None else None
