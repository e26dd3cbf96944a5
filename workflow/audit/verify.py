"""Re-computing every chain, streaming: the proof that history was not altered.

The rows come ordered by (chain, seq) — from the database through a server-side cursor
(``yield_per``), or from an export file line by line — and pass through a
:class:`ChainWalker` that keeps only the current chain's last seq and hash. Memory
therefore does not grow with the number of rows; it grows with the number of chains
(one head of ~100 bytes each, needed for the heads digest), never with history.

What each row must satisfy, and what a failure means:

- ``seq`` is the previous seq + 1 (starting at 1) — else an entry was deleted;
- ``hash`` equals the recomputed hash — else the entry was changed (or the key is wrong);
- ``prev_hash`` equals the previous entry's hash (``GENESIS`` for seq 1) — else an entry
  was inserted, removed or the rows were reordered;
- the chain ends where the proposal row says its head is (``history_seq`` and
  ``history_head``) — else the tail was cut off or rows were appended outside ruhrflow;
- the proposal row's ``state`` is where the chain's last entry leads, and its
  ``row_version`` is the last seq (every change of the row is one entry) — else the row
  was changed outside ruhrflow (``UPDATE proposals SET state = …``);
- the database's own time of each insert (``recorded_at``, migration 0006; NULL before)
  never goes backwards within a chain — else an entry was written out of order;
- against a checkpoint: every chain it names still reaches its recorded seq with the
  recorded hash — else the tail was truncated, the chain rewritten or deleted;
- every actor ref still commits to the actor ``actor_refs`` names for it (with its salt;
  ``workflow/store/attribution.py``) — else the person behind entries was changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from workflow.audit.checkpoint import find_checkpoint
from workflow.audit.raw_rows import raw_entries
from workflow.audit.walker import Break, VerifyResult, reporting, walk_raw
from workflow.engine.history import SYSTEM_CHAIN, append_system_entry
from workflow.progress import ProgressCallback
from workflow.store import chains
from workflow.store.db import RowMapping, Store


def stream_rows(conn: Any) -> Iterator[RowMapping]:
    """Every history row ordered by (chain, seq), with the proposal's head, streamed."""
    yield from chains.entries_with_heads(conn)


def verify_store(
    store: Store,
    *,
    key: bytes | None,
    checkpoint_digest: str | None = None,
    progress: ProgressCallback | None = None,
) -> VerifyResult:
    """Verify every chain in the database (and against a checkpoint when given).

    One read transaction: SQLite (WAL) and PostgreSQL (one statement, one snapshot)
    see a consistent history while writers go on. ``progress(done, total)`` hears of every
    :data:`~workflow.audit.walker.BATCH` entries checked.
    """
    with store.read() as conn:
        checkpoint = None
        if checkpoint_digest is not None:
            found = find_checkpoint(_system_rows(conn), checkpoint_digest)
            if isinstance(found, str):
                return VerifyResult(0, 0, bool(key), None, Break(SYSTEM_CHAIN, None, found))
            checkpoint = found
        total = None
        if progress is not None:
            total = chains.count_entries(conn)
        entries = reporting(raw_entries(conn), progress, total)
        result = walk_raw(entries, key=key, checkpoint=checkpoint)
        if result.broken is None:
            orphan = chains.first_proposal_without_history(conn)
            if orphan is not None:
                broken = Break(
                    orphan.key,
                    1,
                    f"the proposal has no history (its head says seq {orphan.history_seq}):"
                    " all entries were deleted",
                )
                return VerifyResult(result.entries, result.chains, bool(key), None, broken)
            misattributed = _misattributed(conn)
            if misattributed is not None:
                return VerifyResult(result.entries, result.chains, bool(key), None, misattributed)
    return result


def _misattributed(conn: Any) -> Break | None:
    """The first entry whose ref no longer commits to the actor ``actor_refs`` names."""
    from workflow.store.attribution import attribution_problem

    for ref, actor_id, salt in chains.actor_refs_with_salts(conn):
        problem = attribution_problem(ref, actor_id, salt)
        if problem is None:
            continue
        first = chains.first_entry_of_ref(conn, ref)
        if first is not None:  # a ref no entry uses attributes nothing
            return Break(first.chain, first.seq, f"{problem} (actor_refs was edited)")
    return None


def _system_rows(conn: Any) -> Iterator[Mapping[str, Any]]:
    for row in chains.checkpoint_entries(conn, SYSTEM_CHAIN):
        yield {"chain": SYSTEM_CHAIN, **row}


# --- the record of verifications --------------------------------------------------------------

VERIFICATION = "verification"


def record_verification(
    store: Store,
    result: VerifyResult,
    *,
    audit_key: bytes | None,
    actor_id: str,
    now: datetime,
) -> int:
    """Record ``result`` as a ``verification`` entry on ``@system``; return its seq.

    The entry is itself hash-chained: a later verification covers it, and deleting it
    breaks the system chain. What an auditor sees as "the last verification" (web, ``audit
    log``) is read back from these entries, never from a file or a variable.
    """
    data = result.as_dict()
    with store.write() as conn:
        entry = append_system_entry(
            conn,
            kind=VERIFICATION,
            trigger="verify",
            actor_id=actor_id,
            now=now,
            data=data,
            audit_key=audit_key,
        )
    return int(entry["seq"])


def system_entries(store: Store, kind: str, *, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries of ``kind`` on ``@system``, newest first.

    Each as ``{"seq", "at", "data"}``; the actor is left to the audit log (pseudonymised
    refs resolve there).
    """
    with store.read() as conn:
        return chains.newest_entries_of_kind(conn, SYSTEM_CHAIN, kind, limit=limit)


def last_verification(store: Store) -> dict[str, Any] | None:
    """The newest recorded verification (see :func:`record_verification`), or None."""
    found = system_entries(store, VERIFICATION, limit=1)
    return found[0] if found else None
