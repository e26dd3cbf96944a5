"""The hash chain over a proposal's history.

Each entry's ``hash`` is SHA-256 (or HMAC-SHA-256 with ``RUHRFLOW_AUDIT_KEY``) over a
canonical JSON of its fields, ``prev_hash`` included, so a changed, deleted, inserted
or reordered row breaks the chain from that row on. The actor enters the chain only as
an opaque ref (see ``actor_refs``): a GDPR erasure replaces the person behind the ref
and leaves every hash intact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

HASHED_FIELDS = (
    "chain", "seq", "kind", "trigger", "from_state", "to_state",
    "actor_ref", "comment", "data", "at", "prev_hash",
)  # fmt: skip


def format_time(at: datetime) -> str:
    """The canonical text of a time: UTC, microseconds, ``Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(entry: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed for one history entry."""
    doc = {name: entry[name] for name in HASHED_FIELDS}
    at = doc["at"]
    if isinstance(at, datetime):
        doc["at"] = format_time(at)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any], key: bytes | None = None) -> str:
    """The hash of one entry (hex); keyed with HMAC when ``key`` is given."""
    payload = canonical_bytes(entry)
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()
