"""Walking history chains: the checks every row must pass, one row at a time.

:class:`ChainWalker` keeps only the current chain's last seq and hash (and one head per
chain, for the heads digest), so memory does not grow with history. The rows come from the
database (:func:`walk_raw` over :func:`workflow.audit.raw_rows.raw_entries`) or from an
export file (:func:`walk`); what each row must satisfy is listed in
:mod:`workflow.audit.verify`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from workflow.audit.checkpoint import CheckpointRecord, heads_digest
from workflow.engine.chain import GENESIS, canonical_bytes, format_time
from workflow.engine.history import is_system_chain
from workflow.progress import ProgressCallback
from workflow.store import chains

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


def walk_raw(
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


def _shown(value: Any) -> str:
    """A recorded time in a break's message (UTC)."""
    if isinstance(value, datetime):
        at = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return format_time(at)
    return str(value)
