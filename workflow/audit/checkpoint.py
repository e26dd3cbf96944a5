"""Checkpoints: one digest over every chain head, written down outside the database.

The digest is SHA-256 over the lines ``<chain>\\t<last seq>\\t<last hash>\\n`` of every
chain, sorted by chain name (code-point order). ``ruhrflow audit checkpoint`` prints it
with the time and the row count and records it as a ``checkpoint`` entry on ``@system``
whose data holds the digest and the heads it covers. ``ruhrflow audit verify
--checkpoint DIGEST`` finds that entry, proves its heads produce DIGEST, and checks that
every chain still reaches its recorded head: a truncated tail, a rewritten chain or a
deleted proposal shows. Deleting the checkpoint entry itself makes the digest unknown
to the database, which is a break too: that is why the auditor keeps it elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workflow.engine.chain import format_time
from workflow.engine.history import SYSTEM_CHAIN, append_system_entry
from workflow.store import chains
from workflow.store.db import Connection, Store


def heads_digest(heads: Iterable[tuple[str, int, str]]) -> str:
    """The digest over chain heads (chain, last seq, last hash), in any order given."""
    digest = hashlib.sha256()
    for chain, seq, head in sorted(heads):
        digest.update(f"{chain}\t{seq}\t{head}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint just taken."""

    digest: str
    at: datetime
    rows: int
    chains: int
    seq: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "digest": self.digest,
            "at": format_time(self.at),
            "rows": self.rows,
            "chains": self.chains,
            "system_seq": self.seq,
        }


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint as found in the history: the heads it covered."""

    seq: int
    digest: str
    at: str
    rows: int
    heads: Mapping[str, tuple[int, str]]
    as_of: str | None = None  # the cut-off day of a publication's checkpoint

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (without the heads)."""
        return {
            "digest": self.digest,
            "at": self.at,
            "rows": self.rows,
            "chains": len(self.heads),
            "system_seq": self.seq,
            "as_of": self.as_of,
        }


def current_heads(conn: Connection) -> list[tuple[str, int, str]]:
    """The head (chain, last seq, last hash) of every chain, read in one statement."""
    return chains.chain_heads(conn)


def take_checkpoint(
    store: Store, *, audit_key: bytes | None, actor_id: str, now: datetime
) -> Checkpoint:
    """Compute the digest over all chain heads and record it on ``@system``."""
    with store.write() as conn:
        heads = current_heads(conn)
        digest = heads_digest(heads)
        rows = sum(seq for _, seq, _ in heads)
        data = {
            "digest": digest,
            "rows": rows,
            "chains": len(heads),
            "heads": {chain: [seq, head] for chain, seq, head in heads},
        }
        entry = append_system_entry(
            conn,
            kind="checkpoint",
            trigger="checkpoint",
            actor_id=actor_id,
            now=now,
            data=data,
            audit_key=audit_key,
        )
    return Checkpoint(digest, now, rows, len(heads), entry["seq"])


def find_checkpoint(rows: Iterable[Mapping[str, Any]], digest: str) -> CheckpointRecord | str:
    """The checkpoint entry recording ``digest`` among ``rows``, or what is wrong.

    ``rows`` are history rows (any, only ``@system`` checkpoints are considered). The
    recorded heads must reproduce the digest, else the entry was tampered with.
    """
    wanted = digest.strip().lower()
    if len(wanted) < 16:
        return "give the full checkpoint digest (at least 16 hex digits)"
    for row in rows:
        if row["chain"] != SYSTEM_CHAIN or row["kind"] != "checkpoint":
            continue
        data = row["data"]
        recorded = str(data.get("digest", ""))
        if not recorded.startswith(wanted):
            continue
        heads = {str(c): (int(v[0]), str(v[1])) for c, v in dict(data.get("heads", {})).items()}
        if heads_digest((c, s, h) for c, (s, h) in heads.items()) != recorded:
            return (
                f"the checkpoint entry (seq {row['seq']}) does not reproduce its digest:"
                " the recorded heads were altered"
            )
        at = row["at"]
        at_text = format_time(at) if isinstance(at, datetime) else str(at)
        as_of = str(data["as_of"]) if data.get("as_of") else None
        count = int(data.get("rows", 0))
        return CheckpointRecord(row["seq"], recorded, at_text, count, heads, as_of)
    return (
        f"no checkpoint with digest {wanted[:16]}… in the history: the system chain was"
        " truncated, or the digest is mistyped"
    )


def recorded_checkpoints(store: Store, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` checkpoints on ``@system``, newest first, without their heads.

    ``{"seq", "at", "digest", "rows", "chains", "as_of"}``; the heads (one per chain, a
    hundred thousand at full size) stay in the database: only JSON paths are read.
    """
    with store.read() as conn:
        return chains.checkpoint_summaries(conn, SYSTEM_CHAIN, limit=limit)
