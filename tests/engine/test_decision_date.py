"""A decision date in the future is refused (#27.4): the cabinet cannot have decided tomorrow.

The check is relative to the engine's clock (``now``), never to the machine's: a simulation on
the clock of 2019 refuses a decision dated 2031 and takes one dated the day it plays.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import NOW
from support import add_proposal, walk_to

from workflow.engine.engine import Engine
from workflow.errors import DateInFuture, InvalidInput
from workflow.store import repo

# The cabinet session of the 2019 round: 5 November, recorded at noon (Berlin).
CABINET = datetime(2019, 11, 5, 11, 0, tzinfo=UTC)


def _in_cabinet(engine: Engine) -> str:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "cabinet", NOW)
    return key


def _state_and_seq(engine: Engine, key: str) -> tuple[str, int]:
    with engine.store.read() as conn:
        row = repo.load_proposal(conn, key)
    assert row is not None
    return str(row["state"]), int(row["history_seq"])


def test_a_decision_dated_after_the_engines_day_is_refused_in_german(engine: Engine) -> None:
    # Given a proposal before the cabinet on 5 November 2019
    key = _in_cabinet(engine)
    before = _state_and_seq(engine, key)
    # when the coordination office records a decision dated 2031 (the example)
    with pytest.raises(DateInFuture) as info:
        engine.advance(key, "approve", actor="koordination", now=CABINET,
                       fields={"decision_date": "2031-06-30"})  # fmt: skip
    # then it is refused as bad input, in English for the CLI and in German for the web
    assert isinstance(info.value, InvalidInput) and info.value.exit_code == 2
    assert str(info.value) == (
        "field decision_date: 2031-06-30 lies in the future (today is 2019-11-05)"
    )
    assert info.value.german == (
        "Datum des Beschlusses: Der 30.06.2031 liegt in der Zukunft (heute ist der 05.11.2019)."
        " Eingetragen wird nur, was schon beschlossen ist."
    )
    # and nothing was written
    assert _state_and_seq(engine, key) == before


def test_the_next_day_is_refused_and_the_day_itself_taken(engine: Engine) -> None:
    key = _in_cabinet(engine)
    with pytest.raises(DateInFuture):
        engine.advance(key, "reject", actor="koordination", now=CABINET,
                       fields={"decision_date": "2019-11-06", "reason": "zu teuer"})  # fmt: skip
    applied = engine.advance(key, "approve", actor="koordination", now=CABINET,
                             fields={"decision_date": "2019-11-05"})  # fmt: skip
    assert applied.to_state == "approved"


def test_the_day_is_the_day_in_berlin(engine: Engine) -> None:
    # 23:30 UTC on 4 November is 00:30 on 5 November in Berlin: the cabinet's day has begun
    key = _in_cabinet(engine)
    late_evening_utc = datetime(2019, 11, 4, 23, 30, tzinfo=UTC)
    applied = engine.advance(key, "approve", actor="koordination", now=late_evening_utc,
                             fields={"decision_date": "2019-11-05"})  # fmt: skip
    assert applied.fields == {"decision_date": "2019-11-05"}


def test_what_can_happen_next_says_why_a_future_date_blocks(engine: Engine) -> None:
    # Given a decision date after the engine's day, typed into the form before the review
    key = _in_cabinet(engine)
    typed = {"decision_date": "2019-12-24"}
    options = {o.trigger: o for o in engine.triggers(key, actor="koordination", now=CABINET,
                                                     fields=typed)}  # fmt: skip
    # then approve is blocked by the date, in English and in German
    approve = options["approve"]
    assert not approve.can_fire
    assert "field decision_date: 2019-12-24 lies in the future (today is 2019-11-05)" in (
        approve.blocked_by
    )
    assert any("Der 24.12.2019 liegt in der Zukunft" in r for r in approve.blocked_by_de)
    # and a trigger that does not take the field is not blocked by it
    assert not any("Zukunft" in r for r in options["withdraw"].blocked_by_de)
    # and without the date, approve is only missing it
    plain = {o.trigger: o for o in engine.triggers(key, actor="koordination", now=CABINET)}
    assert not any("Zukunft" in r for r in plain["approve"].blocked_by_de)
