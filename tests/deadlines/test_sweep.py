"""The sweep fires each due rung exactly once: twice, concurrently, after downtime."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import Connection, func, select
from support import add_proposal, walk_to

from workflow.app.runtime import open_runtime
from workflow.app.settings import Settings
from workflow.deadlines.sweep import SweepResult, simulate, sweep
from workflow.engine.changes import Applied, RungInfo
from workflow.engine.engine import Engine
from workflow.process.calendar import BERLIN
from workflow.store import repo
from workflow.store.schema import actor_refs, deadline_rungs, history


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


# Consultations opened on 15 Jul 2019 12:00 are due 5 Aug 09:00; reminders 29 Jul and
# 4 Aug 09:00; the escalation 7 Aug 09:00 (all Berlin).
REMIND_7D = berlin(2019, 7, 29, 9)
REMIND_1D = berlin(2019, 8, 4, 9)
ESCALATE = berlin(2019, 8, 7, 9)


def in_consultation(engine: Engine, n: int = 1) -> list[str]:
    keys = []
    for _ in range(n):
        key = add_proposal(engine, NOW)
        walk_to(engine, key, "consultation", NOW)
        keys.append(key)
    return keys


def scheduler_entries(engine: Engine) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        stmt = (
            select(
                history.c.chain, history.c.seq, history.c.kind, history.c.trigger, history.c.data
            )
            .join(actor_refs, actor_refs.c.ref == history.c.actor_ref)
            .where(actor_refs.c.actor_id == "ruhrflow")
            .order_by(history.c.chain, history.c.seq)
        )
        return [dict(r) for r in conn.execute(stmt).mappings()]


def test_a_tick_fires_due_rungs_with_a_history_entry_as_ruhrflow(engine: Engine) -> None:
    # given a proposal in consultation
    (key,) = in_consultation(engine)
    # when the sweep runs at the time of the first reminder
    result = sweep(engine.store, engine.machines, engine.append_event, REMIND_7D)
    # then one reminder fired, on time, recorded in the proposal's history as ruhrflow
    assert result.counts() == {"reminder": 1, "escalation": 0, "late": 0, "skipped": 0}
    (info,) = result.fired
    assert (info.key, info.deadline, info.rung, info.kind) == (
        key, "consultation", "remind-7d", "reminder",
    )  # fmt: skip
    assert info.idempotency_key == f"deadline-rung:{info.rung_id}"
    (entry,) = scheduler_entries(engine)
    assert (entry["kind"], entry["trigger"]) == ("reminder", "consultation.remind-7d")
    assert entry["data"]["late"] is False
    with engine.store.read() as conn:
        last = repo.last_entry(conn, key)
        row = repo.load_proposal(conn, key)
    assert last is not None and row is not None
    assert (last["actor_id"], row["history_seq"], row["state"]) == (
        "ruhrflow", last["seq"], "consultation",
    )  # fmt: skip


def test_ticking_twice_at_the_same_now_handles_each_rung_once(engine: Engine) -> None:
    in_consultation(engine, 2)
    first = sweep(engine.store, engine.machines, engine.append_event, ESCALATE)
    second = sweep(engine.store, engine.machines, engine.append_event, ESCALATE)
    # the reminders come after their deadline: skipped; the escalations fire on time
    assert first.counts() == {"reminder": 0, "escalation": 2, "late": 0, "skipped": 4}
    assert second.fired == second.skipped == []
    assert len(scheduler_entries(engine)) == 6


def test_catch_up_after_downtime_records_every_missed_rung_and_fires_only_the_last(
    engine: Engine,
) -> None:
    # given a proposal whose three rungs all passed while nothing ran
    in_consultation(engine)
    # when the sweep runs a week after the escalation was due
    result = sweep(engine.store, engine.machines, engine.append_event, ESCALATE + timedelta(days=7))
    # then the reminders, whose deadline had passed, are skipped; the escalation fires, late
    assert [(r.rung, r.skipped) for r in result.skipped] == [
        ("remind-7d", "deadline passed"), ("remind-1d", "deadline passed"),
    ]  # fmt: skip
    assert [r.rung for r in result.fired] == ["escalate-2wd"]
    assert all(r.late for r in result.fired + result.skipped)
    # and each is in the history once, marked late, the skipped ones as such
    entries = scheduler_entries(engine)
    assert [(e["kind"], e["data"].get("skipped")) for e in entries] == [
        ("rung_skipped", "deadline passed"),
        ("rung_skipped", "deadline passed"),
        ("escalation", None),
    ]
    assert [e["data"]["late"] for e in entries] == [True, True, True]
    with engine.store.read() as conn:
        late = conn.execute(select(func.count()).where(deadline_rungs.c.late)).scalar_one()
    assert late == 3
    again = sweep(engine.store, engine.machines, engine.append_event, ESCALATE + timedelta(days=8))
    assert again.fired == again.skipped == []


def test_of_two_late_reminders_before_the_deadline_only_the_latter_fires(
    engine: Engine,
) -> None:
    # given a consultation and a sweeper that was down from before the first reminder
    in_consultation(engine)
    # when it runs again an hour after the second reminder, before the deadline
    result = sweep(
        engine.store, engine.machines, engine.append_event, REMIND_1D + timedelta(hours=1)
    )
    # then the earlier reminder is recorded as superseded, only the later one fires (late)
    assert [(r.rung, r.skipped) for r in result.skipped] == [
        ("remind-7d", "superseded by a later rung")
    ]
    assert [(r.rung, r.late, r.fire_at) for r in result.fired] == [("remind-1d", True, REMIND_1D)]


def test_a_rung_a_few_minutes_behind_is_not_late(engine: Engine) -> None:
    in_consultation(engine)
    result = sweep(
        engine.store,
        engine.machines,
        engine.append_event,
        REMIND_7D + timedelta(minutes=2),
        late_after=timedelta(minutes=5),
    )
    assert [r.late for r in result.fired] == [False]


def test_no_rung_fires_after_the_state_was_left(engine: Engine) -> None:
    # given a consultation whose first reminder fired
    (key,) = in_consultation(engine)
    sweep(engine.store, engine.machines, engine.append_event, REMIND_7D)
    # when it is withdrawn before the next reminder
    engine.advance(
        key, "withdraw", actor="koordination", now=REMIND_7D + timedelta(hours=1),
        fields={"reason": "zurückgezogen"},
    )  # fmt: skip
    # then a sweep long after fires nothing of the consultation
    assert (
        sweep(
            engine.store, engine.machines, engine.append_event, ESCALATE + timedelta(days=30)
        ).fired
        == []
    )
    assert [e["trigger"] for e in scheduler_entries(engine)] == ["consultation.remind-7d"]


def test_the_outbox_hook_runs_in_the_sweep_transaction(engine: Engine) -> None:
    # given a hook that sees the transaction and then fails
    seen: list[tuple[str, str, int]] = []

    def failing(conn: Connection, applied: Applied, info: RungInfo, now: datetime) -> None:
        seen.append((applied.key, info.rung, applied.seq))
        raise RuntimeError("outbox full")

    in_consultation(engine)
    # when the sweep runs, the failure rolls the rung and its entry back
    with pytest.raises(RuntimeError, match="outbox full"):
        sweep(engine.store, engine.machines, engine.append_event, REMIND_7D, on_rung=failing)
    assert scheduler_entries(engine) == []
    # and a working hook sees the same rung again and it fires once
    calls: list[str] = []
    result = sweep(
        engine.store,
        engine.machines,
        engine.append_event,
        REMIND_7D,
        on_rung=lambda c, a, i, n: calls.append(i.idempotency_key),
    )
    assert len(result.fired) == 1 and calls == [result.fired[0].idempotency_key]
    assert seen[0][1] == "remind-7d"


def test_two_concurrent_sweepers_fire_each_rung_exactly_once(
    engine: Engine, settings: Settings
) -> None:
    # given eight proposals with three due rungs each
    in_consultation(engine, 8)
    # when two sweepers with their own connections run at the same now, several times
    runtimes = [open_runtime(settings) for _ in range(2)]
    results: list[SweepResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(rt: Any) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                results.append(
                    sweep(
                        rt.engine.store,
                        rt.engine.machines,
                        rt.engine.append_event,
                        ESCALATE,
                        batch_size=3,
                    )
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for rt in runtimes:
        rt.close()
    # then every rung fired (or, a reminder after its deadline, was skipped) exactly once,
    # and so did its history entry
    assert errors == []
    fired = [r.rung_id for res in results for r in res.fired + res.skipped]
    assert len(fired) == len(set(fired)) == 24
    assert sum(len(res.skipped) for res in results) == 16
    entries = scheduler_entries(engine)
    assert len(entries) == 24
    assert len({(e["chain"], e["trigger"]) for e in entries}) == 24


def test_simulate_lists_what_would_fire_and_writes_nothing(engine: Engine) -> None:
    # given a consultation and the state of the database before
    (key,) = in_consultation(engine)
    with engine.store.read() as conn:
        before = conn.execute(select(func.count()).select_from(history)).scalar_one()
    # when the next three weeks are simulated from 1 Aug
    planned = simulate(
        engine.store, engine.machines, berlin(2019, 8, 1, 12), berlin(2019, 8, 5, 23, 59)
    )
    # then the overdue reminder comes first (late), then the one of 4 Aug
    assert [(p.rung, p.late) for p in planned] == [("remind-7d", True), ("remind-1d", False)]
    assert planned[1].fire_at == REMIND_1D and planned[0].key == key
    # and nothing was written
    with engine.store.read() as conn:
        after = conn.execute(select(func.count()).select_from(history)).scalar_one()
        pending = conn.execute(
            select(func.count()).where(deadline_rungs.c.fired_at.is_not(None))
        ).scalar_one()
    assert (after, pending) == (before, 0)


@pytest.mark.parametrize(
    "at",
    [
        berlin(2019, 8, 1, 12),  # one late reminder, the deadline still ahead: it mails
        berlin(2019, 8, 4, 12),  # two late reminders: only the later one mails
        berlin(2019, 8, 6, 12),  # after the deadline: both reminders are recorded silently
        berlin(2019, 8, 9, 12),  # and the escalation after them mails, late
    ],
)
def test_simulate_foresees_what_the_sweep_then_does(engine: Engine, at: datetime) -> None:
    # given a consultation whose rungs the scheduler missed until ``at``
    in_consultation(engine)
    # when the look-ahead is asked, and then the sweep runs at that moment
    planned = simulate(engine.store, engine.machines, at, at + timedelta(minutes=1))
    done = sweep(engine.store, engine.machines, engine.append_event, at)
    # then the look-ahead said which rungs mail and which are recorded without a notice, and why
    foreseen = [(p.rung, p.late, p.skipped) for p in planned]
    happened = sorted(
        ((r.rung, r.late, r.skipped) for r in [*done.fired, *done.skipped]),
        key=lambda r: [p[0] for p in foreseen].index(r[0]),
    )
    assert foreseen == happened
    assert foreseen  # the scenario has rungs due
