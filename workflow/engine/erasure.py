"""GDPR erasure without breaking the proof: replace the person behind the refs.

History rows name an actor only through an opaque ``actor_ref``; the hash chain covers
the ref. Erasure therefore changes ``actor_refs`` — every ref of the person gets one
pseudonym (``pseudonym-<random>``) and ``pseudonymised_at``, and loses the salt of its
commitment (``workflow/store/attribution.py``) — and never a history row, so every chain
still verifies. The erasure is recorded on ``@system`` (kind ``pseudonymise``) with the
pseudonym and the number of refs, never the person. Later actions of the same id get a
fresh ref (``repo.actor_ref_for`` skips pseudonymised refs).

Who may order it is the definition's ``permissions.pseudonymise`` (default: the coordination
office, which handles GDPR requests); the engine runs it in its unit of work
(:meth:`workflow.engine.engine.Engine.pseudonymise`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from workflow.engine.history import append_system_entry
from workflow.errors import InvalidInput
from workflow.store import repo
from workflow.store.db import Connection


@dataclass(frozen=True)
class Pseudonymised:
    """The outcome of an erasure."""

    pseudonym: str
    refs: int
    system_seq: int


def erase(
    conn: Connection, actor_id: str, *, by: str, now: datetime, audit_key: bytes | None
) -> Pseudonymised:
    """Replace ``actor_id`` behind all its refs by one new pseudonym, in the caller's write
    transaction, and record it on @system as ``by``'s (hash keyed by ``audit_key``).

    Raises InvalidInput when no current ref names ``actor_id`` (unknown, or erased already).
    """
    refs = repo.current_refs(conn, actor_id)
    if not refs:
        raise InvalidInput(
            f"no history entry names actor {actor_id!r} (unknown, or pseudonymised already)"
        )
    pseudonym = f"pseudonym-{secrets.token_hex(8)}"
    repo.pseudonymise_refs(conn, refs, pseudonym, now)
    entry = append_system_entry(
        conn,
        kind="pseudonymise",
        trigger="pseudonymise",
        actor_id=by,
        now=now,
        data={"pseudonym": pseudonym, "refs": len(refs)},
        audit_key=audit_key,
    )
    return Pseudonymised(pseudonym, len(refs), entry["seq"])
