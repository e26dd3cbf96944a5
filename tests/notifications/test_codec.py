"""The outbox's context codec: what goes in comes back, through real JSON, or is refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.codec import decode, encode

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


@given(contexts)
def test_a_context_survives_json(value: Any) -> None:
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert type(back) is type(value)


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
