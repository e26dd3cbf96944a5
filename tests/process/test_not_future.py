"""``fields.*.not_future`` (format 3): which date may not lie after the engine's day.

A key added later is never required of older files (workflow/process/formats.py): a file that
does not say it gets the default — ``decision_date`` refuses the future, as a decision's date
always should have; any other field (a planned ``cabinet_session``) does not.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from workflow.errors import InvalidDefinition
from workflow.process.definition import parse_definition
from workflow.process.fields import dated_after_today, parse_fields
from workflow.process.formats import default_not_future, resolve

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (REPO / "definitions" / "ruhr_konferenz.yaml").read_text(encoding="utf-8")
FIXTURES = REPO / "tests" / "upgrade" / "fixtures"
NOON_5_NOV = datetime(2019, 11, 5, 11, 0, tzinfo=UTC)

DECISION = "  decision_date:\n    type: date\n    label: Datum des Beschlusses\n"


def test_the_shipped_definition_refuses_a_future_decision_and_not_a_future_session() -> None:
    definition = parse_definition(SHIPPED, "shipped")
    assert definition.fields["decision_date"].not_future
    assert not definition.fields["cabinet_session"].not_future
    # the file does not use the key, so it stays the format it was
    assert definition.file_format == 2


@pytest.mark.parametrize("db", sorted(FIXTURES.glob("*/ruhrflow.db")), ids=lambda p: p.parent.name)
def test_every_definition_an_earlier_release_registered_gets_the_default(db: Path) -> None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sources = list(con.execute("SELECT version, source FROM definitions"))
    finally:
        con.close()
    assert sources
    for version, source in sources:
        fields = parse_definition(source, f"{db.parent.name}-v{version}").fields
        assert fields["decision_date"].not_future, version
        assert not any(f.not_future for name, f in fields.items() if name != "decision_date")


def test_a_file_may_turn_the_check_off_or_on_and_then_is_format_3() -> None:
    off = SHIPPED.replace(DECISION, DECISION + "    not_future: false\n")
    assert off != SHIPPED
    assert resolve({"fields": {"decision_date": {"not_future": False}}}).number == 3
    with pytest.raises(InvalidDefinition, match="needs its German text under guards"):
        parse_definition(off, "off")  # format 3 asks for the guards' texts as well
    on = SHIPPED.replace(
        "  cabinet_session:\n    type: date\n",
        "  cabinet_session:\n    type: date\n    not_future: true\n",
    )
    with pytest.raises(InvalidDefinition, match="needs its German text under guards"):
        parse_definition(on, "on")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    not_future: ja\n", "fields.decision_date.not_future: must be true or false"),
        ("    not_future: 1\n", "fields.decision_date.not_future: must be true or false"),
    ],
)
def test_not_future_must_be_a_boolean(line: str, message: str) -> None:
    text = "format: 3\n" + SHIPPED.replace(DECISION, DECISION + line)
    with pytest.raises(InvalidDefinition) as info:
        parse_definition(text, "bad")
    assert message in str(info.value)


def test_only_a_date_can_refuse_the_future() -> None:
    text = "format: 3\n" + SHIPPED.replace(
        "  reason:\n    type: text\n", "  reason:\n    type: text\n    not_future: true\n"
    )
    with pytest.raises(InvalidDefinition) as info:
        parse_definition(text, "bad")
    assert "fields.reason.not_future: only a date can lie in the future" in str(info.value)


def test_the_default_rule() -> None:
    assert default_not_future("decision_date", "date")
    assert not default_not_future("cabinet_session", "date")
    assert not default_not_future("decision_date", "text")


def test_dated_after_today_compares_with_the_day_of_now_in_berlin() -> None:
    definition = parse_definition(SHIPPED, "shipped")
    typed = {"decision_date": "2019-11-06", "cabinet_session": "2020-01-01"}
    given = parse_fields(definition, typed)
    late = dated_after_today(definition, given, NOON_5_NOV)
    assert [(f.name, day) for f, day in late] == [("decision_date", date(2019, 11, 6))]
    # at 23:30 UTC on 5 November it is 6 November in Berlin
    assert dated_after_today(definition, given, datetime(2019, 11, 5, 23, 30, tzinfo=UTC)) == []
