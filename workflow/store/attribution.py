"""Who wrote a history entry, provably: the actor ref is a salted commitment to the actor.

The hash chain covers an entry's ``actor_ref``, not the person (so that a GDPR erasure
changes no history row). A ref used to be random, so the actor an export names next to it
could be changed at will and the export still verified. Now a ref is made as

    ref = HMAC-SHA-256(key = salt, message = actor id), the first 32 hex digits

with a random 128-bit salt per ref, kept in ``actor_refs`` beside the id. An export
carries ``actor`` and ``actor_salt`` with every entry, and ``audit verify --file``
recomputes the commitment: another actor does not match the ref the chain covers.
``audit pseudonymise`` deletes salt and id together — the ref, and so every hash, stays
and still verifies; without the salt the commitment reveals nobody (a 128-bit salt cannot
be guessed, even knowing every actor id).

Refs made before this scheme are 24 random hex digits without a salt; their attribution
cannot be proven (they are told apart by their length). A committed ref without a salt
must name a pseudonym: removing the salt can hide who acted, never make someone else
appear to have acted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

COMMITTED_LENGTH = 32  # hex digits of a committed ref; legacy random refs have 24
PSEUDONYM_PREFIX = "pseudonym-"


def new_salt() -> str:
    """A fresh random salt (128 bits, hex)."""
    return secrets.token_hex(16)


def commitment(salt: str, actor_id: str) -> str:
    """The ref that commits to ``actor_id`` under ``salt``."""
    digest = hmac.new(bytes.fromhex(salt), actor_id.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:COMMITTED_LENGTH]


def is_committed(ref: str) -> bool:
    """True for a ref made by :func:`commitment` (not a legacy random one)."""
    return len(ref) == COMMITTED_LENGTH


def attribution_problem(ref: str, actor: str | None, salt: str | None) -> str | None:
    """Why ``actor`` (with ``salt``) is not provably the actor behind ``ref``, or None.

    None as well for a legacy ref, whose attribution cannot be checked.
    """
    if not is_committed(ref):
        return None
    if salt:
        try:
            matches = actor is not None and hmac.compare_digest(commitment(salt, actor), ref)
        except ValueError:  # a salt that is no hex
            matches = False
        if not matches:
            return (
                f"the actor was changed: {actor!r} is not the actor who wrote the entry"
                " (the actor ref, covered by the hash, commits to somebody else)"
            )
        return None
    if actor is None or not actor.startswith(PSEUDONYM_PREFIX):
        return (
            f"the actor {actor!r} cannot be proven: the salt of its commitment is missing,"
            " which only an erasure (a pseudonym) may do"
        )
    return None


def check_entries(entries: Iterable[Mapping[str, Any]]) -> tuple[str, int, str] | None:
    """(chain, seq, problem) of the first entry of an export whose actor does not match
    its ref, or None."""
    for entry in entries:
        problem = attribution_problem(
            str(entry["actor_ref"]), entry.get("actor"), entry.get("actor_salt")
        )
        if problem is not None:
            return str(entry["chain"]), int(entry["seq"]), problem
    return None
