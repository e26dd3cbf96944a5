"""Reading open deadlines: the worklist's page is the head of the full list, chosen in SQL."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from sqlalchemy import select, update
from support import add_proposal

from workflow.deadlines.queries import list_open_deadlines
from workflow.engine.engine import Engine
from workflow.store import worklist
from workflow.store.schema import deadlines, proposals


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


def test_the_rows_times_are_those_sqlalchemy_reads_shared_or_not(engine: Engine) -> None:
    # given open deadlines of which some fall due at the same moment and others not (SQLite's
    # rows convert each distinct stored time once: workflow/store/worklist.py)
    keys = [add_proposal(engine, NOW, key=f"RK-03-{i + 1:02d}") for i in range(5)]
    with engine.store.write() as conn:
        for i, key in enumerate(keys[:3]):
            of_key = select(proposals.c.id).where(proposals.c.key == key).scalar_subquery()
            moved = NOW + timedelta(days=30 + i, microseconds=i)
            conn.execute(
                update(deadlines).where(deadlines.c.proposal_id == of_key), {"due_at": moved}
            )
    later = NOW + timedelta(days=400)
    # when the rows are read with and without their next rung
    typed = worklist._statement(
        (False, True, False, False, False, False, False, False, False, False)
    )
    with engine.store.read() as conn:
        found = list(worklist.open_deadlines(conn, later))
        lean = list(worklist.open_deadlines(conn, later, rungs=False))
        expected = [tuple(r) for r in conn.execute(typed)]  # SQLAlchemy's own conversion
    # then they are what SQLAlchemy's UTCDateTime makes of them, aware and in UTC
    assert found == expected and 1 < len({r[4] for r in found}) < len(found)
    assert lean == [r[:7] for r in expected]
    assert all(r[4].utcoffset() == timedelta(0) for r in found)
    assert any(r[7] is not None for r in found)
    assert all(r[7] is None or r[7].utcoffset() == timedelta(0) for r in found)
