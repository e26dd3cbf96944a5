"""The stored text of status_change contexts (ContextTexts): exactly json.dumps(encode(context)).

The notifier splices remembered parts (a transition's trigger and states, an actor, a
deadline's kind and label, a state's next steps) into the text; whatever the values, the
text must be the one the codec writes, and a remembered part must never stand in for a value
of another type (``True`` for ``1``) or another definition.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from conftest import DEFINITION, NOW, REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.access.directory import load_directory
from workflow.notices.codec import encode, plain_text, time_text
from workflow.notices.context import (
    ContextTexts,
    OpenDeadline,
    proposal_context,
    status_change_context,
)
from workflow.process.definition import load_definition

definition = load_definition(DEFINITION)
directory = load_directory(REPO / "config" / "directory.toml")
TRANSITIONS = [(t.trigger, source, t.dest) for t in definition.transitions for source in t.sources]

offsets = st.builds(
    lambda m, name: (
        timezone(timedelta(minutes=m), name) if name else timezone(timedelta(minutes=m))
    ),
    st.integers(-23 * 60, 23 * 60),
    st.none() | st.text(max_size=3),
)
times = (
    st.datetimes()
    | st.datetimes(timezones=st.timezones())
    | st.datetimes(timezones=offsets)
    | st.datetimes(timezones=offsets).map(lambda d: d.replace(fold=1))
    | st.datetimes().map(lambda d: d.replace(fold=1))
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.dates()
    | times
    | st.decimals(allow_nan=False, allow_infinity=False)
)
names = st.text(max_size=8) | st.sampled_from(["$map", "$date", "progress", "reason"])
field_values = st.dictionaries(names, scalars | st.lists(scalars, max_size=2), max_size=3)
strings = st.text(max_size=8) | st.sampled_from(["im", "coord", "IM", 'x\u00e4\u2013\n"'])


@st.composite
def rows(draw: Any) -> dict[str, Any]:
    return {
        "key": draw(strings),
        "title": draw(strings),
        "state": draw(strings),
        "handlungsfeld": draw(st.integers(0, 9)),
        "themenforum": draw(st.none() | st.integers(0, 9) | strings | st.booleans()),
        "lead": draw(st.sampled_from(["IM", "VM", "XX"]) | strings),
        "participating": [],
    }


def deadlines(draw: Any) -> list[OpenDeadline]:
    kinds = st.sampled_from(["progress_report", "consultation"]) | strings
    return [
        OpenDeadline(i, draw(kinds), draw(strings | st.sampled_from(["Bericht"])), draw(times), 0)
        for i in range(draw(st.integers(0, 2)))
    ]


@st.composite
def contexts(draw: Any) -> dict[str, Any]:
    trigger, source, dest = draw(st.sampled_from(TRANSITIONS))
    return {
        "proposal": draw(rows()),
        "trigger": trigger,
        "from_state": source,
        "to_state": dest,
        "actor": draw(st.sampled_from(["im", "coord"]) | strings),
        "at": draw(times),
        "comment": draw(st.none() | strings),
        "fields": draw(field_values),
        "deadlines_open": deadlines(draw),
    }


def build(values: dict[str, Any], texts: ContextTexts | None, shared: Any = None) -> Any:
    return status_change_context(
        proposal=proposal_context(values["proposal"], definition, directory),
        definition=definition, directory=directory, trigger=values["trigger"],
        from_state=values["from_state"], to_state=values["to_state"], actor=values["actor"],
        at=values["at"], comment=values["comment"], fields=values["fields"],
        deadlines_open=values["deadlines_open"], shared=shared, texts=texts,
    )  # fmt: skip


@settings(max_examples=300)
@given(st.lists(contexts(), min_size=1, max_size=4), st.booleans())
def test_the_spliced_text_is_json_of_the_encoding(many: list[dict[str, Any]], one: bool) -> None:
    # one ContextTexts for all contexts (remembered parts reused across them), with and
    # without a command's shared memo; each context equal to the one built without either
    texts = ContextTexts()
    shared: dict[Any, Any] | None = None if one else {}
    for values in many * 2:
        context = build(values, texts, shared)
        assert context == build(values, None)
        assert texts.status_change(context, definition, shared) == json.dumps(encode(context))


def test_a_remembered_part_is_not_taken_for_an_equal_value_of_another_type() -> None:
    texts = ContextTexts()
    base = {"proposal": {"key": "RK-03-01", "title": "T", "state": "implementation",
            "handlungsfeld": 3, "themenforum": 3, "lead": "IM"}, "trigger": "report_progress",
            "from_state": "implementation", "to_state": "implementation", "actor": "im",
            "at": NOW, "comment": None, "fields": {"progress": 1},
            "deadlines_open": [OpenDeadline(1, "progress_report", "Bericht", NOW, 0)]}  # fmt: skip
    texts_of = []
    for fields in ({"progress": 1}, {"progress": True}, {"progress": 1.0}, {"progress": "1"}):
        context = build({**base, "fields": fields}, texts)
        text = texts.status_change(context, definition)
        assert text == json.dumps(encode(context))
        texts_of.append(text)
    assert len(set(texts_of)) == 4
    # another shape than status_change_context's is written by dumps
    other = {"proposal": {}, "transition": {"to_state": "x"}, "next_steps": [], "deadlines": []}
    assert texts.status_change(other, definition) == json.dumps(encode(other))
    reordered = dict(reversed(list(build(base, texts).items())))
    assert texts.status_change(reordered, definition) == json.dumps(encode(reordered))


def test_the_next_steps_are_remembered_per_definition() -> None:
    texts = ContextTexts()
    other = load_definition(DEFINITION)  # equal, but another object: its own steps
    assert texts.steps(definition, "implementation") is texts.steps(definition, "implementation")
    assert texts.steps(other, "implementation") is not texts.steps(definition, "implementation")
    assert texts.steps(other, "implementation") == texts.steps(definition, "implementation")


@given(st.dictionaries(names, scalars, max_size=4) | st.just({1: "x"}) | st.just({"a": Decimal(1)}))
def test_plain_text_is_dumps(value: Any) -> None:
    try:
        expected = json.dumps(encode(value))
    except TypeError:
        return
    assert plain_text(value) == expected


@given(times | st.dates() | st.none())
def test_time_text_is_dumps(value: datetime | date | None) -> None:
    assert time_text(value) == json.dumps(encode(value))


def test_kept_recipients_give_the_rows_of_fresh_ones(caplog: Any) -> None:
    # the notifier's recipients are tuples, their stored text kept across commands; the row
    # (and the warning about an invalid address, each time) is what a fresh list gives
    from notifications.mail.model import Recipient
    from workflow.notices.outbox import Notice, _Rows

    kept = (Recipient("A", "a@x.example"), Recipient("B", "not an address"),
            Recipient("A again", "A@x.example"))  # fmt: skip
    for _ in range(2):
        rows = [
            _Rows(NOW, "x.example", "inst", many=many)(
                Notice("k", "status_change", 1, recipients, {"a": 1})
            )
            for many in (False, True)
            for recipients in (kept, list(kept))
        ]
        assert all(row == rows[0] for row in rows)
    assert rows[0]["recipients"] == '[{"name": "A", "address": "a@x.example"}]'
    assert caplog.text.count("invalid recipient address(es) left out") == 8


@given(
    st.text(),
    st.text(min_size=1) | st.sampled_from(["", "0123abcd"]),
    st.integers() | st.booleans(),
    st.sampled_from(["ruhrflow.invalid", "x.example"]),
)
def test_digests_are_the_libraries(key: str, installation: str, series: int, domain: str) -> None:
    from notifications.mail.addresses import calendar_uid, message_id
    from workflow.notices.outbox import Digests

    def outcome(f: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except (ValueError, UnicodeError) as exc:
            return type(exc)

    encodable = isinstance(outcome(str.encode, installation), bytes)
    digests = Digests(domain, installation) if encodable else None
    if digests is None:  # no such installation id can be stored
        return
    assert outcome(digests.message_id, key) == outcome(
        message_id, key, domain, installation=installation
    )
    assert outcome(digests.deadline_uid, series) == outcome(
        calendar_uid, domain, "deadline", series, installation=installation
    )
