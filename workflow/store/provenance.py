"""The reads that check a notice's provenance: the proposal, history entries, a fired rung
and a deadline a claimed outbox row claims as its cause (``workflow/notices/provenance.py``
decides what they prove).

Reads only, in the caller's (the delivery worker's write) transaction; each row comes back
as a plain dict or ``None`` when there is none.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from workflow.store.db import Connection
from workflow.store.direct import Direct
from workflow.store.schema import deadline_rungs, deadlines, history, proposals

# Built once, run on SQLite's cursor (workflow/store/direct.py): the check runs for every
# notice delivered, and building a statement cost more than running it.
_PROPOSAL = Direct(select(proposals).where(proposals.c.id == bindparam("proposal_id")))
_RUNG = Direct(
    select(deadline_rungs, deadlines.c.kind.label("deadline"), deadlines.c.proposal_id)
    .join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
    .where(deadline_rungs.c.id == bindparam("rung_id"))
)
_DEADLINE = Direct(select(deadlines).where(deadlines.c.id == bindparam("deadline_id")))


def _first(statement: Direct, conn: Connection, **params: Any) -> dict[str, Any] | None:
    found = statement.mappings(conn, params)
    return dict(found[0]) if found else None


def proposal_by_id(conn: Connection, proposal_id: int) -> dict[str, Any] | None:
    """Every column of the proposal ``proposal_id``, or None if there is none."""
    return _first(_PROPOSAL, conn, proposal_id=proposal_id)


@lru_cache(maxsize=16)
def _entries(names: tuple[str, ...]) -> Direct:
    stmt = select(history).where(history.c.chain == bindparam("chain"))
    for name in names:
        stmt = stmt.where(history.c[name] == bindparam(f"where_{name}"))
    return Direct(stmt.order_by(history.c.seq))


def history_entries(conn: Connection, chain: str, **where: Any) -> list[dict[str, Any]]:
    """The entries of ``chain`` whose columns equal ``where`` (``seq=3``, ``kind="…"``),
    oldest first, every column each. An unknown column name is a ``KeyError``."""
    statement = _entries(tuple(sorted(where)))
    params = {"chain": chain, **{f"where_{name}": value for name, value in where.items()}}
    return [dict(e) for e in statement.mappings(conn, params)]


def rung_with_deadline(conn: Connection, rung_id: int) -> dict[str, Any] | None:
    """Every column of the rung ``rung_id``, with its deadline's ``kind`` as ``deadline`` and
    its ``proposal_id``; None if there is no such rung."""
    return _first(_RUNG, conn, rung_id=rung_id)


def deadline_row(conn: Connection, deadline_id: int) -> dict[str, Any] | None:
    """Every column of the deadline ``deadline_id`` (open or not), or None."""
    return _first(_DEADLINE, conn, deadline_id=deadline_id)
