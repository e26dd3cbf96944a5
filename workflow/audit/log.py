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
    kind: str | None = None,
    newest_first: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Entries matching every filter: one chain by seq, or all by time (the newest first
    when ``newest_first``); ``until`` exclusive; ``offset``/``limit`` a page of them.

    ``actor`` matches the id behind the ref: after an erasure the pseudonym, not the
    person's id (that id then matches only what it did afterwards).
    """
    if key is not None and not is_system_chain(key) and repo.load_proposal(conn, key) is None:
        raise UnknownProposal(key)
    rows = chains.log_entries(
        conn,
        chain=key,
        since=since,
        until=until,
        actor=actor,
        trigger=trigger,
        kind=kind,
        newest_first=newest_first,
        offset=offset,
        limit=limit,
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
