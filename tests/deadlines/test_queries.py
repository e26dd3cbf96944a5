"""Reading open deadlines: the worklist's page is the head of the full list, chosen in SQL."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from support import add_proposal

from workflow.deadlines.queries import list_open_deadlines
from workflow.engine.engine import Engine


def test_a_limited_list_is_the_head_of_the_full_one_and_key_and_lead_narrow_it(
    engine: Engine,
) -> None:
    # given proposals of two ministries created on different days, each with its open
    # forum deadline
    for day in range(6):
        add_proposal(engine, NOW + timedelta(days=day), key=f"RK-03-{day + 1:02d}",
                     lead="IM" if day % 2 else "VM")  # fmt: skip
    later = NOW + timedelta(days=400)
    everything = list_open_deadlines(engine.store, engine.machines, later)
    assert len(everything) >= 6
    # when the first rows are asked for
    head = list_open_deadlines(engine.store, engine.machines, later, limit=3)
    # then they are the first rows of the full list, soonest first
    assert head == everything[:3]
    assert [r["due_at"] for r in everything] == sorted(r["due_at"] for r in everything)
    # and a key or a lead narrows the list as filtering the full one would
    one = list_open_deadlines(engine.store, engine.machines, later, key="RK-03-02")
    assert one == [r for r in everything if r["key"] == "RK-03-02"] and one
    im = list_open_deadlines(engine.store, engine.machines, later, lead="im")
    assert im == [r for r in everything if r["lead"] == "IM"] and im


def test_without_rungs_the_rows_are_the_same_less_the_next_rung(engine: Engine) -> None:
    # given open deadlines, some with rungs still to fire
    for day in range(3):
        add_proposal(engine, NOW + timedelta(days=day), key=f"RK-03-{day + 1:02d}")
    later = NOW + timedelta(days=400)
    full = list_open_deadlines(engine.store, engine.machines, later)
    # when a reader that shows no rungs asks (the web's worklist)
    lean = list_open_deadlines(engine.store, engine.machines, later, rungs=False)
    # then it gets the same rows, without the next rung's name and time
    assert lean == [{k: v for k, v in r.items() if k not in ("next_rung", "next_at")} for r in full]
    assert lean
