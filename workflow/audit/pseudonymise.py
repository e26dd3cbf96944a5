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
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from workflow.engine.history import append_system_entry
from workflow.errors import InvalidInput, PermissionDenied
from workflow.store.schema import actor_refs

if TYPE_CHECKING:
    from workflow.engine.engine import Engine

# Who may order an erasure: the coordination office (it handles GDPR requests).
ALLOWED_ROLES = ("coordinator",)


@dataclass(frozen=True)
class Pseudonymised:
    """The outcome of an erasure."""

    pseudonym: str
    refs: int
    system_seq: int


def pseudonymise(engine: Engine, actor_id: str, *, by: str, now: datetime) -> Pseudonymised:
    """Replace ``actor_id`` behind all its refs by one new pseudonym; record it on @system."""
    who = engine.directory.actor(by)
    if who.role not in ALLOWED_ROLES:
        raise PermissionDenied(by, "pseudonymise actors", None, f"role {who.role} may not")
    with engine.store.write() as conn:
        refs = list(
            conn.execute(
                select(actor_refs.c.ref).where(
                    actor_refs.c.actor_id == actor_id, actor_refs.c.pseudonymised_at.is_(None)
                )
            ).scalars()
        )
        if not refs:
            raise InvalidInput(
                f"no history entry names actor {actor_id!r} (unknown, or pseudonymised already)"
            )
        pseudonym = f"pseudonym-{secrets.token_hex(8)}"
        conn.execute(
            update(actor_refs)
            .where(actor_refs.c.ref.in_(refs))
            .values(actor_id=pseudonym, pseudonymised_at=now, salt=None)
        )
        entry = append_system_entry(
            conn,
            kind="pseudonymise",
            trigger="pseudonymise",
            actor_id=by,
            now=now,
            data={"pseudonym": pseudonym, "refs": len(refs)},
            audit_key=engine.audit_key,
        )
    # The engine caches refs per actor id; a cached ref is now the pseudonym's.
    engine.forget_actor_ref(actor_id)
    return Pseudonymised(pseudonym, len(refs), entry["seq"])
