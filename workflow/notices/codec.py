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
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

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
