"""History: the one module that builds, hashes and inserts history entries and actor refs.

Every entry — a transition, a recorded statement or funding line, a fired reminder, the
creation of a proposal, a checkpoint on the system chain — is built by :func:`new_entry`,
hashed with :func:`workflow.engine.chain.entry_hash` and inserted by :func:`append`. Actor
refs follow one rule: a ref is looked up, or created, inside the transaction of the action it
belongs to, so a refused or rolled-back action leaves no new ref behind; only refs read back
from the database (committed) are cached.

The system chain ``@system`` holds entries that belong to no proposal. A proposal's chain is
serialised by its row (lock or row version); the system chain has no such row, so its
appends are serialised explicitly: on PostgreSQL with a transaction-scoped advisory lock, on
SQLite by the write transaction itself (``BEGIN IMMEDIATE`` admits one writer). The unique
(chain, seq) constraint is the last guard. The SQL (insert, tail, lock) is in
:mod:`workflow.store.repo`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow.engine.chain import GENESIS, canonical_data, entry_hash
from workflow.store import repo
from workflow.store.db import Connection

SYSTEM_CHAIN = "@system"
# Any chain whose name starts with this belongs to no proposal.
SYSTEM_PREFIX = "@"


def is_system_chain(chain: str) -> bool:
    """True for chains that belong to no proposal."""
    return chain.startswith(SYSTEM_PREFIX)


def new_entry(
    *,
    chain: str,
    seq: int,
    kind: str,
    trigger: str,
    from_state: str | None,
    to_state: str | None,
    actor_ref: str,
    comment: str | None,
    data: Mapping[str, Any],
    at: datetime,
    prev_hash: str | None,
    audit_key: bytes | None,
) -> dict[str, Any]:
    """A history row, chained to ``prev_hash`` (``None``: the first of its chain) and hashed."""
    entry: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "kind": kind,
        "trigger": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "actor_ref": actor_ref,
        "comment": comment,
        "data": canonical_data(data),
        "at": at,
        "prev_hash": GENESIS if prev_hash is None else prev_hash,
    }
    entry["hash"] = entry_hash(entry, audit_key)
    return entry


def append(conn: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Insert ``entries`` (built by :func:`new_entry`) in the caller's transaction."""
    repo.insert_history(conn, entries)


def write(
    conn: Connection, updates: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]]
) -> int:
    """Update the proposals (``updates``: the new values with ``p_id`` and ``p_v``, the row
    version read) and insert their ``entries`` in the caller's transaction; returns how
    many proposals matched their version. Fewer than given: no entry is written and the
    transaction must not commit (somebody else changed a proposal)."""
    return repo.write_changes(conn, updates, entries)


class ActorRefs:
    """The opaque refs history stores instead of actors, cached once committed."""

    def __init__(self) -> None:
        self._refs: dict[str, str] = {}

    def ref(self, conn: Connection, actor_id: str, now: datetime) -> str:
        """The current ref of ``actor_id``, created inside ``conn``'s transaction if needed."""
        ref = self._refs.get(actor_id)
        if ref is not None:
            return ref
        ref = repo.actor_ref_for(conn, actor_id)
        if ref is not None:
            self._refs[actor_id] = ref
            return ref
        return repo.create_actor_ref(conn, actor_id, now)  # not cached: it may roll back

    def forget(self, actor_id: str) -> None:
        """Drop the cached ref of ``actor_id`` (a pseudonymisation re-assigned it)."""
        self._refs.pop(actor_id, None)


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
    repo.lock_system_chain(conn)
    last = repo.chain_tail(conn, SYSTEM_CHAIN)
    entry = new_entry(
        chain=SYSTEM_CHAIN,
        seq=(last[0] if last else 0) + 1,
        kind=kind,
        trigger=trigger,
        from_state=None,
        to_state=None,
        actor_ref=ref_of(conn, actor_id, now),
        comment=comment,
        data=data,
        at=now,
        prev_hash=last[1] if last else None,
        audit_key=audit_key,
    )
    append(conn, [entry])
    return entry
