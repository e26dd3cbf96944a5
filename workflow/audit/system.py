"""The system chain ``@system``: history entries that belong to no proposal.

A proposal's chain is serialised by its row (lock or row version); the system chain has
no such row, so its appends are serialised explicitly: on PostgreSQL with a
transaction-scoped advisory lock, on SQLite by the write transaction itself (``BEGIN
IMMEDIATE`` admits one writer). The unique (chain, seq) constraint is the last guard.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from workflow.engine.chain import GENESIS, canonical_data, entry_hash
from workflow.store import repo
from workflow.store.schema import history

SYSTEM_CHAIN = "@system"
# Any chain whose name starts with this belongs to no proposal.
SYSTEM_PREFIX = "@"
# pg_advisory_xact_lock key of the system chain ("rf@s" as an integer).
_ADVISORY_KEY = 0x72664073


def is_system_chain(chain: str) -> bool:
    """True for chains that belong to no proposal."""
    return chain.startswith(SYSTEM_PREFIX)


def ref_of(conn: Connection, actor_id: str, now: datetime) -> str:
    """The current actor ref of ``actor_id``, created inside ``conn``'s transaction."""
    return repo.actor_ref_for(conn, actor_id) or repo.create_actor_ref(conn, actor_id, now)


def append_system_entry(
    conn: Connection,
    *,
    kind: str,
    trigger: str,
    actor_id: str,
    now: datetime,
    data: Mapping[str, Any],
    audit_key: bytes | None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Append one entry to ``@system`` inside the caller's write transaction; returns it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    last = conn.execute(
        select(history.c.seq, history.c.hash)
        .where(history.c.chain == SYSTEM_CHAIN)
        .order_by(history.c.seq.desc())
        .limit(1)
    ).first()
    entry: dict[str, Any] = {
        "chain": SYSTEM_CHAIN,
        "seq": (last.seq if last else 0) + 1,
        "kind": kind,
        "trigger": trigger,
        "from_state": None,
        "to_state": None,
        "actor_ref": ref_of(conn, actor_id, now),
        "comment": comment,
        "data": canonical_data(data),
        "at": now,
        "prev_hash": last.hash if last else GENESIS,
    }
    entry["hash"] = entry_hash(entry, audit_key)
    repo.insert_history(conn, [entry])
    return entry
