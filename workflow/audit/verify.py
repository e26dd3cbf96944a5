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

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from workflow.audit.checkpoint import CheckpointRecord, find_checkpoint, heads_digest
from workflow.engine.chain import GENESIS, canonical_bytes, encode_entry, format_time
from workflow.engine.history import SYSTEM_CHAIN, append_system_entry, is_system_chain
from workflow.progress import ProgressCallback
from workflow.store import chains
from workflow.store.db import RowMapping, Store

BATCH = chains.STREAM_BATCH  # rows per fetch from the server-side cursor
_T = TypeVar("_T")


@dataclass(frozen=True)
class Break:
    """The first place where history is not what it claims: chain, seq and what is wrong."""

    chain: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.chain} seq {self.seq}" if self.seq is not None else self.chain
        return f"{where}: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"chain": self.chain, "seq": self.seq, "problem": self.problem}


@dataclass(frozen=True)
class VerifyResult:
    """What a verification walked and whether it found a break."""

    entries: int
    chains: int
    keyed: bool
    heads_digest: str | None
    broken: Break | None
    checkpoint: CheckpointRecord | None = None

    @property
    def ok(self) -> bool:
        """True when every chain verified."""
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "chains": self.chains,
            "hash": "HMAC-SHA-256" if self.keyed else "SHA-256",
            "heads_digest": self.heads_digest,
            "broken": self.broken.as_dict() if self.broken else None,
            "checkpoint": self.checkpoint.as_dict() if self.checkpoint else None,
        }


class _Stop(Exception):
    def __init__(self, broken: Break) -> None:
        self.broken = broken


@dataclass
class ChainWalker:
    """Checks rows ordered by (chain, seq), one at a time; stops at the first break.

    A row is a mapping with the hashed fields and ``hash`` (and ``recorded_at`` where
    known); rows from the database also carry ``p_key``, ``p_seq``, ``p_head``,
    ``p_state`` and ``p_version`` (the proposal row's view of the chain head, ``p_key``
    None when no proposal holds the chain). ``checkpoint`` maps chain → (seq, hash) as
    recorded by a checkpoint.
    """

    key: bytes | None = None
    checkpoint: Mapping[str, tuple[int, str]] | None = None
    entries: int = 0
    heads: list[tuple[str, int, str]] = field(default_factory=list)
    _chain: str | None = None
    _seq: int = 0
    _head: str = GENESIS
    _proposal: tuple[Any, ...] | None = None
    _checkpoint_hash_seen: bool = False
    _to_state: str | None = None
    _recorded: Any = None  # the last recorded_at seen in this chain (None: not recorded)
    _recorded_seq: int = 0

    def feed(self, row: Mapping[str, Any], payload: bytes | None = None) -> None:
        """Check one row; raises _Stop at a break.

        ``payload`` is the row's canonical bytes when the caller has built them already
        (the database path); else they are built here with ``canonical_bytes``.
        """
        chain = row["chain"]
        if chain != self._chain:
            self._finish_chain()
            proposal = (
                (
                    row["p_key"] is not None,
                    row["p_seq"],
                    row["p_head"],
                    row.get("p_state"),
                    row.get("p_version"),
                )
                if "p_key" in row
                else None
            )
            self._start_chain(chain, proposal)
        self._check(
            chain,
            row["seq"],
            row["prev_hash"],
            row["hash"],
            canonical_bytes(row) if payload is None else payload,
            row["to_state"],
            row.get("recorded_at"),
        )

    def _check(
        self,
        chain: str,
        seq: int,
        prev_hash: str,
        stored: str,
        payload: bytes,
        to_state: str | None,
        recorded_at: Any,
    ) -> None:
        expected = self._seq + 1
        if seq != expected:
            if seq > expected:
                problem = f"entry missing: seq {expected} was deleted (next entry found is {seq})"
            else:
                problem = f"entries out of order: seq {seq} after seq {self._seq}"
            raise _Stop(Break(chain, expected if seq > expected else seq, problem))
        key = self.key
        if key:
            computed = hmac.digest(key, payload, "sha256").hex()
        else:
            computed = hashlib.sha256(payload).hexdigest()
        hash_ok = computed == stored
        link_ok = prev_hash == self._head
        if not (hash_ok and link_ok):
            self._broken(chain, seq, stored, computed, payload, hash_ok, link_ok)
        if self.checkpoint is not None:
            recorded = self.checkpoint.get(chain)
            if recorded is not None and recorded[0] == seq:
                if recorded[1] != stored:
                    raise _Stop(
                        Break(
                            chain,
                            seq,
                            "the entry differs from the checkpoint: the chain was rewritten"
                            " since the checkpoint",
                        )
                    )
                self._checkpoint_hash_seen = True
        if recorded_at is not None:
            if self._recorded is not None and recorded_at < self._recorded:
                raise _Stop(
                    Break(
                        chain,
                        seq,
                        f"recorded by the database at {_shown(recorded_at)}, before seq"
                        f" {self._recorded_seq} ({_shown(self._recorded)}): the entry was"
                        " written out of order, or the server's clock went back",
                    )
                )
            self._recorded = recorded_at
            self._recorded_seq = seq
        self._seq = seq
        self._head = stored
        self._to_state = to_state
        self.entries += 1

    def _broken(
        self,
        chain: str,
        seq: int,
        stored: str,
        computed: str,
        payload: bytes,
        hash_ok: bool,
        link_ok: bool,
    ) -> None:
        if not hash_ok and not link_ok:
            raise _Stop(
                Break(
                    chain,
                    seq,
                    "the entry does not belong here: neither its hash nor its prev_hash match"
                    " (inserted, reordered or changed)",
                )
            )
        if not hash_ok:
            hint = "or the audit key is wrong"
            if self.key and hashlib.sha256(payload).hexdigest() == stored:
                hint = "it was hashed without the audit key"
            raise _Stop(
                Break(
                    chain,
                    seq,
                    f"the entry was changed after it was written: stored hash {stored[:12]}…,"
                    f" computed {computed[:12]}… ({hint})",
                )
            )
        before = "GENESIS" if seq == 1 else f"the hash of seq {seq - 1}"
        raise _Stop(
            Break(
                chain,
                seq,
                f"prev_hash does not match {before}: an entry was inserted, removed"
                " or the entries were reordered",
            )
        )

    def _start_chain(self, chain: str, proposal: tuple[Any, ...] | None) -> None:
        self._chain = chain
        self._seq = 0
        self._head = GENESIS
        self._checkpoint_hash_seen = False
        self._proposal = proposal
        self._to_state = None
        self._recorded = None
        self._recorded_seq = 0

    def _finish_chain(self) -> None:
        chain = self._chain
        if chain is None:
            return
        seq, head = self._seq, self._head
        if self._proposal is not None:
            exists, p_seq, p_head, p_state, p_version = self._proposal
            if not exists and not is_system_chain(chain):
                raise _Stop(
                    Break(chain, seq, "no proposal holds this chain: the proposal row was deleted")
                )
            if exists and p_seq is not None and p_seq > seq:
                raise _Stop(
                    Break(
                        chain,
                        seq,
                        f"the history ends at seq {seq}, but the proposal's head is seq {p_seq}:"
                        " entries were cut off the tail",
                    )
                )
            if exists and p_seq is not None and p_seq < seq:
                raise _Stop(
                    Break(
                        chain,
                        p_seq + 1,
                        f"the history goes on beyond the proposal's head (seq {p_seq}):"
                        " entries were appended outside ruhrflow",
                    )
                )
            if exists and p_head != head:
                raise _Stop(
                    Break(chain, seq, "the last hash differs from the head the proposal records")
                )
            if exists and p_state is not None and p_state != self._to_state:
                raise _Stop(
                    Break(
                        chain,
                        seq,
                        f"the proposal is in state {p_state!r}, but its history (seq {seq})"
                        f" leads to {self._to_state!r}: the proposal row was changed outside"
                        " ruhrflow",
                    )
                )
            if exists and p_version is not None and p_version != seq:
                raise _Stop(
                    Break(
                        chain,
                        seq,
                        f"the proposal's row version is {p_version}, but its history has {seq}"
                        " entries: the proposal row was changed outside ruhrflow",
                    )
                )
        if self.checkpoint is not None:
            recorded = self.checkpoint.get(chain)
            if recorded is not None and not self._checkpoint_hash_seen:
                raise _Stop(
                    Break(
                        chain,
                        seq,
                        f"truncated: the checkpoint covers seq {recorded[0]}, the history ends"
                        f" at seq {seq}",
                    )
                )
        self.heads.append((chain, seq, head))

    def finish(self) -> None:
        """Close the last chain and check that every checkpointed chain was seen."""
        self._finish_chain()
        self._chain = None
        if self.checkpoint is not None:
            seen = {chain for chain, _, _ in self.heads}
            for chain in sorted(set(self.checkpoint) - seen):
                recorded_seq = self.checkpoint[chain][0]
                raise _Stop(
                    Break(
                        chain,
                        recorded_seq,
                        f"the whole chain is gone: the checkpoint covers {recorded_seq} entries,"
                        " the history has none (proposal deleted)",
                    )
                )


def walk(
    rows: Iterable[Mapping[str, Any]],
    *,
    key: bytes | None,
    checkpoint: CheckpointRecord | None = None,
) -> VerifyResult:
    """Verify rows ordered by (chain, seq); stops at the first break."""
    walker = ChainWalker(key=key, checkpoint=checkpoint.heads if checkpoint else None)
    try:
        for row in rows:
            walker.feed(row)
        walker.finish()
    except _Stop as stop:
        return VerifyResult(walker.entries, len(walker.heads), bool(key), None, stop.broken)
    digest = heads_digest(walker.heads)
    return VerifyResult(walker.entries, len(walker.heads), bool(key), digest, None, checkpoint)


def _walk_raw(
    entries: Iterable[tuple[Any, ...]],
    *,
    key: bytes | None,
    checkpoint: CheckpointRecord | None = None,
) -> VerifyResult:
    """``walk`` over ``raw_entries``: the same checks, without a mapping per row."""
    walker = ChainWalker(key=key, checkpoint=checkpoint.heads if checkpoint else None)
    check = walker._check
    current = None
    try:
        for (
            chain, seq, prev, digest, payload, p_key, p_seq, p_head, to_state, recorded_at,
            p_state, p_version,
        ) in entries:  # fmt: skip
            if chain != current:
                walker._finish_chain()
                walker._start_chain(chain, (p_key is not None, p_seq, p_head, p_state, p_version))
                current = chain
            check(chain, seq, prev, digest, payload, to_state, recorded_at)
        walker.finish()
    except _Stop as stop:
        return VerifyResult(walker.entries, len(walker.heads), bool(key), None, stop.broken)
    digest = heads_digest(walker.heads)
    return VerifyResult(walker.entries, len(walker.heads), bool(key), digest, None, checkpoint)


def stream_rows(conn: Any) -> Iterator[RowMapping]:
    """Every history row ordered by (chain, seq), with the proposal's head, streamed."""
    yield from chains.entries_with_heads(conn)


def reporting(
    items: Iterable[_T], progress: ProgressCallback | None, total: int | None
) -> Iterable[_T]:
    """``items`` as they are, calling ``progress(done, total)`` every :data:`BATCH` items
    and at the end (``items`` itself when there is no ``progress``: the hot loop stays bare)."""
    if progress is None:
        return items

    def counted() -> Iterator[_T]:
        # Chunks of BATCH through islice: no per-row bookkeeping in the hot loop.
        rows, done = iter(items), 0
        while chunk := list(islice(rows, BATCH)):
            yield from chunk
            done += len(chunk)
            if len(chunk) == BATCH:
                progress(done, total)
        progress(done, total if total is not None else done)

    return counted()


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
    :data:`BATCH` entries checked.
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
        result = _walk_raw(entries, key=key, checkpoint=checkpoint)
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


# --- the database path: raw rows, canonical bytes without the ORM types ----------------------


def _sqlite_time(text: Any) -> str:
    """The canonical text (``format_time``) of a time as SQLite hands it back.

    The store writes ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC): then the canonical text is
    the same digits with ``T`` and ``Z``. Anything else takes the way the column type
    takes (parse, naive means UTC, ``format_time``).
    """
    if (
        text.__class__ is str
        and len(text) == 26
        and text[10] == " "
        and text[19] == "."
        and text[0] != "0"
        and datetime.fromisoformat(text).tzinfo is None  # also validates the digits
    ):
        return f"{text[:10]}T{text[11:]}Z"
    at = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return format_time(at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def raw_entries(conn: Any) -> Iterator[tuple[Any, ...]]:
    """Every history row ordered by (chain, seq), streamed, as ``(chain, seq, prev_hash,
    hash, canonical bytes, p_key, p_seq, p_head, to_state, recorded_at, p_state,
    p_version)`` (``recorded_at`` or None: a datetime on PostgreSQL, on SQLite the text
    ``YYYY-MM-DD HH:MM:SS.fff`` in UTC, which orders as the times do).

    The driver's own values (no SQLAlchemy type processing, no mapping per row); the
    canonical bytes are byte-identical to ``workflow.engine.chain.canonical_bytes`` of the row as
    the store types read it (tests/audit/test_verify_fast.py proves it on awkward data).
    """
    on_sqlite = conn.dialect.name == "sqlite"
    loads = json.loads
    for part in chains.raw_entries_with_heads(conn):
        for row in part:
            (
                chain, seq, kind, trig, src, dst, ref, comment, data, at, prev, digest, pk, ps, ph,
                recorded, p_state, p_version,
            ) = row  # fmt: skip
            if on_sqlite:
                at_text = _sqlite_time(at)
                if data is not None:
                    data = loads(data)
                if recorded is not None and (
                    recorded.__class__ is not str or len(recorded) != 23 or recorded[10] != " "
                ):
                    recorded = _sqlite_recorded(recorded)
            else:
                at_text = format_time(at)
            payload = encode_entry(
                chain, seq, kind, trig, src, dst, ref, comment, data, at_text, prev
            )
            yield chain, seq, prev, digest, payload, pk, ps, ph, dst, recorded, p_state, p_version


def _sqlite_recorded(value: Any) -> str:
    """``recorded_at`` as SQLite's column default writes it (``YYYY-MM-DD HH:MM:SS.fff``,
    UTC), which compares as text: the form of every row ruhrflow writes, so only other
    forms are parsed here (cut to milliseconds: an earlier time never becomes a later one)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]


def _shown(value: Any) -> str:
    """A recorded time in a break's message (UTC)."""
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return format_time(at)
    return str(value)


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
