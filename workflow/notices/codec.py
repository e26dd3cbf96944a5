"""Template contexts as JSON: what the outbox stores so that a notice is rendered at delivery.

A transition stores the *context* of its notices (the values the templates use), not the
rendered mail: rendering (Jinja, the ``termin.ics``) happens in the delivery worker, outside
the transition's transaction. The contexts hold values JSON has no type for — aware
datetimes, dates, decimals — so they are stored tagged and come back as the same types:

* ``datetime`` → ``{"$datetime": "2019-11-05T10:00:00+00:00"}`` (a fixed offset kept; naive
  stays naive; ``[text, 1]`` for ``fold=1``)
* ``datetime`` in an IANA zone → ``{"$zoned": ["2019-10-27T02:30:00", "Europe/Berlin", 1]}``:
  wall time, zone and fold, so that times in a DST gap or fold come back equal (Python never
  calls a gap or fold time equal to the same instant in another zone or offset)
* ``date`` → ``{"$date": "2019-11-05"}``
* ``Decimal`` → ``{"$decimal": "60800000.00"}`` (exact, not a float)
* a mapping with a key starting with ``$`` → ``{"$map": [[key, value], …]}``, so that user
  data can never be mistaken for a tag.

Tuples become lists. A datetime whose zone is neither a fixed offset nor a ``ZoneInfo`` (a
third-party tzinfo) is refused, as is anything else JSON cannot hold: with ``TypeError`` when
the notice is stored, never silently turned into a string. ``decode(encode(x)) == x`` for
every value built of these types (property-tested).

The outbox stores the JSON text of the encoded value: :func:`dumps` (one value) or a
:class:`Dumps` (many values of one command that share parts, e.g. the deadlines or the
transition of a bulk advance: each shared part is encoded once). Both give exactly the text
of ``json.dumps(encode(value))`` — what SQLAlchemy's JSON type wrote before the outbox took
text — with the encoder ``json.dumps`` would build, built once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any
from zoneinfo import ZoneInfo

from workflow.engine.chain import json_encoder

_PLAIN = frozenset({str, int, bool, type(None)})


def encode(value: Any) -> Any:
    """``value`` as plain JSON values (tagged where JSON lacks the type)."""
    kind = type(value)
    if kind in _PLAIN:  # by exact type first: a bulk transition encodes thousands of these
        return value
    if kind is dict:
        for k in value:
            if type(k) is not str:
                raise TypeError("a notice context's mappings must have string keys")
            if k[:1] == "$":
                return {"$map": [[k, encode(v)] for k, v in value.items()]}
        # plain leaves inline: most of a context is strings and numbers
        return {k: v if type(v) in _PLAIN else encode(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else encode(v) for v in value]
    return _encode_other(value)


def _encode_other(value: Any) -> Any:
    if isinstance(value, bool | int | str):  # subclasses (an IntEnum, a str subclass)
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError(f"a notice context cannot hold {value!r}")
        return value
    if isinstance(value, datetime):  # before date: a datetime is a date
        return _encode_datetime(value)
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"a notice context cannot hold {value!r}")
        return {"$decimal": str(value)}
    if isinstance(value, Mapping):
        return encode(dict(value))
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise TypeError(f"a notice context cannot hold a {type(value).__name__}")


def _encode_datetime(value: datetime) -> Any:
    zone = value.tzinfo
    if zone is None or type(zone) is timezone:
        # fold means nothing without a zone's rules, but it is part of the value
        return {"$datetime": value.isoformat() if not value.fold else [value.isoformat(), 1]}
    if type(zone) is ZoneInfo and zone.key is not None:
        wall = value.replace(tzinfo=None, fold=0).isoformat()
        return {"$zoned": [wall, zone.key, value.fold]}
    raise TypeError(
        f"a notice context cannot hold a datetime in {type(zone).__name__} {zone!r}: "
        "use a ZoneInfo zone or a fixed offset"
    )


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$datetime":
            if isinstance(inner, list):
                return datetime.fromisoformat(inner[0]).replace(fold=inner[1])
            return datetime.fromisoformat(inner)
        if tag == "$zoned":
            wall, key, fold = inner
            return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(key), fold=fold)
        if tag == "$date":
            return date.fromisoformat(inner)
        if tag == "$decimal":
            return Decimal(inner)
        if tag == "$map":
            return {k: decode(v) for k, v in inner}
    if any(k.startswith("$") for k in value):
        raise ValueError(f"not an encoded notice context: unknown tag in {sorted(value)}")
    return {k: decode(v) for k, v in value.items()}


# --- the stored text ----------------------------------------------------------------------------

# json.dumps(value) with its defaults, built once (encode() returns a fresh tree: a circular
# value fails in encode(), so no circularity check is needed)
_text = json_encoder()


def dumps(value: Any) -> str:
    """The JSON text of :func:`encode` of ``value``: ``json.dumps(encode(value))``."""
    return _text(encode(value))


def plain_text(value: dict[str, Any]) -> str:
    """:func:`dumps` of a mapping, without the walk of :func:`encode` when every key is a
    ``str`` without ``$`` and every value a ``str``, ``int``, ``bool`` or ``None`` (by exact
    type): then the encoding is the mapping itself."""
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str or k[:1] == "$" or type(v) not in _PLAIN:
                return dumps(value)
        return _text(value)
    return dumps(value)


def time_text(value: Any) -> str:
    """:func:`dumps` of a time: an aware ``datetime`` at a fixed offset (fold 0) written
    directly (its ISO text needs no escaping), anything else by :func:`dumps`."""
    if type(value) is datetime and type(value.tzinfo) is timezone and not value.fold:
        return '{"$datetime": "' + value.isoformat() + '"}'
    return dumps(value)


def quoted(text: str) -> str:
    """A string as ``json.dumps`` writes it (ASCII, escaped)."""
    return str(encode_basestring_ascii(text))


class Dumps:
    """:func:`dumps` for the values of one command, each part encoded once.

    A mapping's values that are dicts or lists are remembered by identity (the object is kept,
    so its id stays its own): a notifier that hands the same object to many notices — the
    transition of a bulk advance, the deadlines all its proposals entered — pays for its
    encoding once. The text is exactly :func:`dumps`'s. For the duration of one command only:
    a remembered part must not change.
    """

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[int, tuple[Any, str]] = {}

    def __call__(self, value: Any) -> str:
        if type(value) is not dict:
            return self._part(value)
        items = []
        for k, v in value.items():
            if type(k) is not str or k[:1] == "$":
                return dumps(value)  # tagged as a whole ($map), or refused
            items.append(f"{encode_basestring_ascii(k)}: {self._part(v)}")
        return "{" + ", ".join(items) + "}"

    def _part(self, value: Any) -> str:
        kind = type(value)
        if kind is not dict and kind is not list:
            return dumps(value)
        found = self._parts.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        text = dumps(value)
        self._parts[id(value)] = (value, text)
        return text
