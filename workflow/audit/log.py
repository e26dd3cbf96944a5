"""The audit log: history entries across proposals, filtered, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from workflow.engine.history import is_system_chain
from workflow.errors import UnknownProposal
from workflow.store import chains, repo
from workflow.store.db import Connection


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
    if key is not None and not is_system_chain(key) and repo.load_proposal(conn, key) is None:
        raise UnknownProposal(key)
    rows = chains.log_entries(
        conn, chain=key, since=since, until=until, actor=actor, trigger=trigger
    )
    for row in rows:
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
