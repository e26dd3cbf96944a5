"""The audit log: history entries across proposals, filtered, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from workflow.audit.verify import BATCH
from workflow.engine.history import is_system_chain
from workflow.errors import UnknownProposal
from workflow.store import repo
from workflow.store.schema import actor_refs, history


def audit_log(
    conn: Connection,
    *,
    key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    trigger: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Entries matching every filter: one chain by seq, or all by time; ``until`` exclusive.

    ``actor`` matches the id behind the ref: after an erasure the pseudonym, not the
    person's id (that id then matches only what it did afterwards).
    """
    stmt = select(history, actor_refs.c.actor_id).select_from(
        history.outerjoin(actor_refs, actor_refs.c.ref == history.c.actor_ref)
    )
    if key is not None:
        if not is_system_chain(key) and repo.load_proposal(conn, key) is None:
            raise UnknownProposal(key)
        stmt = stmt.where(history.c.chain == key).order_by(history.c.seq)
    else:
        stmt = stmt.order_by(history.c.at, history.c.chain, history.c.seq)
    if since is not None:
        stmt = stmt.where(history.c.at >= since)
    if until is not None:
        stmt = stmt.where(history.c.at < until)
    if actor is not None:
        stmt = stmt.where(actor_refs.c.actor_id == actor)
    if trigger is not None:
        stmt = stmt.where(history.c.trigger == trigger)
    for row in conn.execute(stmt.execution_options(yield_per=BATCH)).mappings():
        yield {
            "key": row["chain"],
            "seq": row["seq"],
            "at": row["at"],
            "kind": row["kind"],
            "trigger": row["trigger"],
            "from_state": row["from_state"],
            "to_state": row["to_state"],
            "actor": row["actor_id"] or row["actor_ref"],
            "comment": row["comment"],
            "data": row["data"],
            "hash": row["hash"],
        }
