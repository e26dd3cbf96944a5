"""Reading open deadlines: the worklist's page is the head of the full list, chosen in SQL."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from sqlalchemy import select, update
from support import add_proposal, walk_to

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


def test_every_variant_lists_the_same_rows_as_filtering_and_sorting_all_of_them(
    engine: Engine,
) -> None:
    # The worklist orders by (due_at, deadlines.proposal_key), the key as copied into the
    # deadline: the order of (due_at, proposals.key), checked here against the rows of the
    # tables filtered and sorted in Python, for every filter, window, page and rungs.
    # given proposals created in descending key order (key order is not id order), of two
    # ministries and two forums: all with the forum deadline of one fixed due time, three of
    # them later in consultation (two due at the same time), their forum deadline closed
    created = []
    for n in range(8, 0, -1):
        forum = 3 if n % 3 else 4
        lead = "VM" if n % 2 else "IM"
        key = add_proposal(engine, NOW, key=f"RK-{forum:02d}-{n:02d}", forum=forum, lead=lead)
        created.append((key, lead))
    for (key, lead), at in zip(created[1:4], (NOW, NOW, NOW + timedelta(days=2)), strict=True):
        walk_to(engine, key, "consultation", at, lead=lead.lower())
    now = NOW + timedelta(days=3)  # the forum deadlines are overdue, the consultations not
    with engine.store.read() as conn:
        table = conn.execute(
            select(proposals.c.key, proposals.c.lead, proposals.c.state, deadlines.c.kind,
                   deadlines.c.due_at, deadlines.c.sequence, proposals.c.definition_id,
                   proposals.c.themenforum)
            .join(proposals, proposals.c.id == deadlines.c.proposal_id)
            .where(deadlines.c.status == "open", deadlines.c.state == proposals.c.state)
        ).all()  # fmt: skip
        with_rungs = {r[0]: r for r in worklist.open_deadlines(conn, now)}
    table.sort(key=lambda r: (r[4], r[0]))
    due_times = [r[4] for r in table]
    assert len(table) == 8 and len(set(due_times)) == 3 and due_times.count(due_times[0]) == 5
    until = now + timedelta(days=30)
    variants = [
        {"rungs": rungs, "overdue": overdue, "due_until": due_until, "lead": lead,
         "key": key, "themenforum": forum, "limit": limit, "offset": offset}
        for rungs in (True, False) for overdue in (False, True) for due_until in (None, until)
        for lead in (None, "vm") for key in (None, "RK-03-07", "RK-03-05")
        for forum in (None, 3) for limit in (None, 3) for offset in (0, 2)
    ]  # fmt: skip
    # when each variant is read, then its rows are those of the table that pass its filters,
    # in the same order, paged
    with engine.store.read() as conn:
        for v in variants:
            expected = [
                r[:7]
                for r in table
                if (v["lead"] is None or r[1] == v["lead"].upper())
                and (v["key"] is None or r[0] == v["key"])
                and (v["themenforum"] is None or r[7] == v["themenforum"])
                and (
                    (not v["overdue"] and v["due_until"] is None)
                    or (v["overdue"] and r[4] <= now)
                    or (v["due_until"] is not None and now < r[4] <= v["due_until"])
                )
            ][v["offset"] :][: v["limit"]]
            if v["rungs"]:
                expected = [(*r, with_rungs[r[0]][7]) for r in expected]
            found = [tuple(r) for r in worklist.open_deadlines(conn, now, **v)]
            assert found == expected, v
