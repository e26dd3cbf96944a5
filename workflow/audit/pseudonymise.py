"""GDPR erasure without breaking the proof: replace the person behind the refs.

History rows name an actor only through an opaque ``actor_ref``; the hash chain covers
the ref. Erasure therefore changes ``actor_refs`` — every ref of the person gets one
pseudonym (``pseudonym-<random>``) and ``pseudonymised_at``, and loses the salt of its
commitment (``workflow/store/attribution.py``) — and never a history row, so every chain
still verifies. The erasure is recorded on ``@system`` (kind ``pseudonymise``) with the
pseudonym and the number of refs, never the person. Later actions of the same id get a
fresh ref (``repo.actor_ref_for`` skips pseudonymised refs).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from workflow.access.directory import Directory
from workflow.engine.history import ActorRefs, append_system_entry
from workflow.errors import InvalidInput, PermissionDenied
from workflow.store import repo
from workflow.store.db import Store

# Who may order an erasure: the coordination office (it handles GDPR requests).
ALLOWED_ROLES = ("coordinator",)


@dataclass(frozen=True)
class Pseudonymised:
    """The outcome of an erasure."""

    pseudonym: str
    refs: int
    system_seq: int


def pseudonymise(
    store: Store,
    directory: Directory,
    actor_refs: ActorRefs,
    actor_id: str,
    *,
    by: str,
    now: datetime,
    audit_key: bytes | None,
) -> Pseudonymised:
    """Replace ``actor_id`` behind all its refs by one new pseudonym; record it on @system.

    ``directory`` says whether ``by`` may; ``actor_refs`` is the engine's cache of refs
    (the erased actor's entry is dropped); ``audit_key`` keys the @system entry's hash.
    """
    who = directory.actor(by)
    if who.role not in ALLOWED_ROLES:
        raise PermissionDenied(by, "pseudonymise actors", None, f"role {who.role} may not")
    with store.write() as conn:
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
    # The engine caches refs per actor id; a cached ref is now the pseudonym's.
    actor_refs.forget(actor_id)
    return Pseudonymised(pseudonym, len(refs), entry["seq"])
