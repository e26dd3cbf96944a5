"""The outbox's context codec: what goes in comes back, through real JSON, or is refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.notices.codec import Dumps, decode, dumps, encode

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes()  # naive
    | st.datetimes(timezones=st.timezones())
    | st.decimals(allow_nan=False, allow_infinity=False)
)
# keys include ones that look like the codec's own tags
keys = st.text() | st.sampled_from(["$datetime", "$date", "$decimal", "$map", "$"])
contexts = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def exactly(value: Any) -> Any:
    """``value`` with every datetime spelled out: wall time, fold and zone.

    ``==`` is not enough for datetimes: it ignores ``fold``, and Python never calls a time in a
    DST gap or fold equal to the same instant in another zone — the trap a zone turned into a
    fixed offset falls into.
    """
    if isinstance(value, datetime):
        zone = value.tzinfo
        name = getattr(zone, "key", None) or (zone and zone.utcoffset(None))
        return ("datetime", value.replace(tzinfo=None).isoformat(), value.fold, name)
    if isinstance(value, dict):
        return {k: exactly(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [exactly(v) for v in value]
    return (type(value).__name__, value)


@given(contexts)
def test_a_context_survives_json(value: Any) -> None:
    # zone-aware datetimes keep their zone and fold, gap and fold times included
    back = decode(json.loads(json.dumps(encode(value))))
    assert exactly(back) == exactly(value)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2000, 3, 26, 2, 0, tzinfo=ZoneInfo("Arctic/Longyearbyen")),  # in the gap
        datetime(2019, 3, 31, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # in the gap
        datetime(2019, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # fold, first
        datetime(2019, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),  # fold, second
    ],
    ids=["gap Longyearbyen", "gap Berlin", "fold 0", "fold 1"],
)
def test_gap_and_fold_times_keep_zone_and_fold(moment: datetime) -> None:
    back = decode(json.loads(json.dumps(encode({"at": moment}))))["at"]
    assert back == moment
    assert back.tzinfo is moment.tzinfo and back.fold == moment.fold
    assert back.utcoffset() == moment.utcoffset()


class ThirdPartyZone(tzinfo):
    """A tzinfo the codec cannot name: neither a fixed offset nor an IANA zone."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


def test_a_zone_the_codec_cannot_name_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match="ZoneInfo zone or a fixed offset"):
        encode({"at": datetime(2019, 11, 5, 10, 0, tzinfo=ThirdPartyZone())})


def test_types_and_offsets_are_kept() -> None:
    value = {"at": datetime(2019, 11, 5, 10, 0, tzinfo=UTC), "on": date(2019, 11, 5),
             "euro": Decimal("60800000.00"), "$datetime": "user text"}  # fmt: skip
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert back["at"].utcoffset() is not None and str(back["euro"]) == "60800000.00"
    assert isinstance(back["on"], date) and not isinstance(back["on"], datetime)


@pytest.mark.parametrize(
    "value",
    [{1: "x"}, {"s": {1, 2}}, float("nan"), Decimal("Infinity"), object(), b"bytes"],
    ids=["int key", "set", "nan", "decimal inf", "object", "bytes"],
)
def test_what_json_cannot_hold_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        encode(value)


def test_an_unknown_tag_is_not_taken_for_data() -> None:
    with pytest.raises(ValueError, match="unknown tag"):
        decode({"$evil": 1, "x": 2})


@given(contexts)
def test_the_stored_text_is_json_of_the_encoding(value: Any) -> None:
    # what SQLAlchemy's JSON type wrote before the outbox took the text: byte for byte
    expected = json.dumps(encode(value))
    assert dumps(value) == expected
    shared = Dumps()
    assert shared(value) == expected
    assert shared({"a": value, "b": value}) == json.dumps(encode({"a": value, "b": value}))


def test_a_part_shared_by_many_contexts_is_encoded_once_and_the_same() -> None:
    part = {"at": datetime(2019, 11, 5, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")), "n": [1, 2]}
    shared = Dumps()
    texts = [shared({"i": i, "part": part, "$x": 1} if i == 2 else {"i": i, "part": part})
             for i in range(3)]  # fmt: skip
    assert texts == [
        json.dumps(encode({"i": 0, "part": part})),
        json.dumps(encode({"i": 1, "part": part})),
        json.dumps(encode({"i": 2, "part": part, "$x": 1})),  # tagged as a whole
    ]
