"""The hash chain over a proposal's history.

Each entry's ``hash`` is SHA-256 (or HMAC-SHA-256 with ``RUHRFLOW_AUDIT_KEY``) over a
canonical JSON of its fields, ``prev_hash`` included, so a changed, deleted, inserted
or reordered row breaks the chain from that row on. The actor enters the chain only as
an opaque ref (see ``actor_refs``): a GDPR erasure replaces the person behind the ref
and leaves every hash intact. The ref is a salted commitment to the actor id
(``workflow/store/attribution.py``), so the chain covers the attribution as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring,
    encode_basestring_ascii,
)
from typing import Any

from workflow.errors import InvalidInput

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
    at = entry["at"]
    return encode_entry(
        entry["chain"], entry["seq"], entry["kind"], entry["trigger"], entry["from_state"],
        entry["to_state"], entry["actor_ref"], entry["comment"], entry["data"],
        format_time(at) if isinstance(at, datetime) else at, entry["prev_hash"],
    )  # fmt: skip


# --- the one canonical encoder ---------------------------------------------------------------
# The canonical JSON is ``json.dumps(doc, sort_keys=True, separators=(",", ":"),
# ensure_ascii=False)`` of the HASHED_FIELDS; encode_entry writes exactly those bytes field
# by field (no dict, no sorting per call), for the engine and for ``audit verify``'s
# database path, which hands it the driver's raw values.

# The row columns in the order of the key-sorted canonical JSON (see canonical_bytes).
assert tuple(sorted(HASHED_FIELDS)) == (
    "actor_ref", "at", "chain", "comment", "data", "from_state",
    "kind", "prev_hash", "seq", "to_state", "trigger",
)  # fmt: skip


def json_encoder(
    *,
    sort_keys: bool = False,
    separators: tuple[str, str] = (", ", ": "),
    ensure_ascii: bool = True,
) -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=…, separators=…, ensure_ascii=…)`` as a function built
    once: ``json.dumps`` builds this encoder per call. Without the circularity check (the
    values given are fresh trees or parsed from JSON: never circular); the C encoder that
    ``JSONEncoder.encode`` would build, where Python has it."""
    encoder = json.JSONEncoder(
        sort_keys=sort_keys, separators=separators, ensure_ascii=ensure_ascii
    )
    if c_make_encoder is None:
        return encoder.encode
    item_separator, key_separator = separators
    strings = encode_basestring_ascii if ensure_ascii else encode_basestring
    c_encoder = c_make_encoder(None, encoder.default, strings, None, key_separator,
                               item_separator, sort_keys, False, True)  # fmt: skip

    def encoded(value: Any) -> str:
        return "".join(c_encoder(value, 0))

    return encoded


# json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False), built once
_encode = json_encoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json(value: Any) -> str:
    """One top-level value as ``canonical_bytes`` writes it."""
    if value is None:
        return "null"
    cls = value.__class__
    if cls is str:
        return encode_basestring(value)  # what the encoder uses with ensure_ascii=False
    if cls is int:
        return int.__repr__(value)
    return _encode(value)


def encode_entry(
    chain: Any, seq: Any, kind: Any, trigger: Any, from_state: Any, to_state: Any,
    actor_ref: Any, comment: Any, data: Any, at: Any, prev_hash: Any,
) -> bytes:  # fmt: skip
    """The canonical bytes of one entry from its values; ``at`` as :func:`format_time` text."""
    return (
        f'{{"actor_ref":{_json(actor_ref)},"at":{_json(at)},'
        f'"chain":{_json(chain)},"comment":{_json(comment)},"data":{_json(data)},'
        f'"from_state":{_json(from_state)},"kind":{_json(kind)},"prev_hash":{_json(prev_hash)},'
        f'"seq":{_json(seq)},"to_state":{_json(to_state)},"trigger":{_json(trigger)}}}'
    ).encode()


def entry_hash(entry: Mapping[str, Any], key: bytes | None = None) -> str:
    """The hash of one entry (hex); keyed with HMAC when ``key`` is given."""
    payload = canonical_bytes(entry)
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


# Floats from here on are whole numbers, and PostgreSQL's JSONB gives them back as ints
# (1e16 is stored as the numeric 10000000000000000).
_FLOAT_AS_INT = 1e16


def canonical_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as every backend gives it back, so that what is hashed is what is read.

    History ``data`` is hashed before it is written, and verification hashes what the
    store returns; the two must be the same JSON. PostgreSQL's JSONB stores numbers as
    ``numeric``: ``-0.0`` comes back as ``0.0`` and ``1e16`` as the int
    ``10000000000000000``; it refuses NaN, infinities and ``\\u0000``. Hence: floats must
    be finite, ``-0.0`` becomes ``0.0``, floats of 1e16 and more (all whole) become ints,
    Decimals become their text (as amounts are stored elsewhere), tuples lists, keys text
    (ints allowed); text with NUL or lone surrogates is refused. Other types are a
    programming error (TypeError).
    """
    result = _canonical(data, "data")
    assert isinstance(result, dict)
    return result


def _canonical(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _storable_json_text(value, where)
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum or int subclass is hashed as its number
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where}: {value} is not a finite number")
        if value == 0:
            return 0.0  # -0.0 too
        if abs(value) >= _FLOAT_AS_INT:
            return int(value)
        return float(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{where}: {value} is not a finite number")
        return str(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)
            if not isinstance(key, str):
                raise TypeError(f"{where}: a key must be text, not {type(key).__name__}")
            _storable_json_text(key, where)
            if key in result:
                raise TypeError(f"{where}: key {key!r} appears twice")
            result[key] = _canonical(item, f"{where}.{key}")
        return result
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} is not JSON data")


def _storable_json_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidInput(f"{where} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{where} contains a lone surrogate (not UTF-8)") from None
