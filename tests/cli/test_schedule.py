"""The scheduler CLI: tick, deadlines and simulate, through click's runner."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.schema import deadline_rungs, history


def run(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", database_url, *args], catch_exceptions=False)
    return result.exit_code, result.output


def consultations(engine: Engine, n: int, lead: str = "IM") -> list[str]:
    keys = []
    for _ in range(n):
        key = add_proposal(engine, NOW, lead=lead)
        walk_to(engine, key, "consultation", NOW)  # opened 15 Jul 2019 12:00, due 5 Aug 09:00
        keys.append(key)
    return keys


def count(engine: Engine, stmt: object) -> int:
    with engine.store.read() as conn:
        return int(conn.execute(stmt).scalar_one())  # type: ignore[call-overload]


def test_tick_prints_counts_and_fires_once(engine: Engine, database_url: str) -> None:
    (key,) = consultations(engine, 1)
    # when ticking on 5 Aug 2019 at noon (both reminders passed, and the deadline too)
    code, out = run(database_url, "--now", "2019-08-05T12:00", "scheduler", "tick")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "tick at 2019-08-05 12:00: 0 reminder(s), 0 escalation(s), 0 late, 2 skipped"
    )
    # then each rung is listed at its own time, with the deadline's and why it was skipped
    assert lines[1:3] == [
        f"  {key}  consultation.remind-7d  at 2019-07-29 09:00  due 2019-08-05 09:00"
        "  skipped: deadline passed",
        f"  {key}  consultation.remind-1d  at 2019-08-04 09:00  due 2019-08-05 09:00"
        "  skipped: deadline passed",
    ]
    # and again at the same now: nothing more
    code, out = run(
        database_url, "--now", "2019-08-05T12:00", "scheduler", "tick", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["counts"] == {"reminder": 0, "escalation": 0, "late": 0, "skipped": 0}


def test_tick_as_json_lists_each_fired_rung(engine: Engine, database_url: str) -> None:
    consultations(engine, 2)
    code, out = run(
        database_url, "--now", "2019-07-29T09:00", "scheduler", "tick", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0
    assert data["counts"] == {"reminder": 2, "escalation": 0, "late": 0, "skipped": 0}
    assert {f["rung"] for f in data["fired"]} == {"remind-7d"}
    assert {f["idempotency_key"] for f in data["fired"]} == {
        f"deadline-rung:{f['rung_id']}" for f in data["fired"]
    }
    assert {f["recipients"][0] for f in data["fired"]} == {"coordinator"}


def test_deadlines_filters_overdue_due_within_and_lead(engine: Engine, database_url: str) -> None:
    # given two consultations of IM and one of VM, and one proposal still in idea
    consultations(engine, 2, lead="IM")
    (vm,) = consultations(engine, 1, lead="VM")
    idea = add_proposal(engine, NOW, lead="MKW")
    # on 1 Aug: the forum deadline (15 Jul) is overdue, the consultations due on 5 Aug
    code, out = run(database_url, "--now", "2019-08-01T10:00", "deadlines", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    assert rows[0]["key"] == idea and rows[0]["overdue"] is True
    code, out = run(
        database_url, "--now", "2019-08-01T10:00", "deadlines", "--overdue", "--format", "csv"
    )
    assert [r["key"] for r in csv.DictReader(io.StringIO(out))] == [idea]
    code, out = run(
        database_url, "--now", "2019-08-01T10:00", "deadlines", "--due-within", "3d",
        "--format", "json",
    )  # fmt: skip
    assert json.loads(out) == []  # 5 Aug is four days away
    code, out = run(
        database_url, "--now", "2019-08-01T10:00", "deadlines", "--due-within", "4d",
        "--lead", "vm",
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("PROPOSAL") and len(lines) == 2
    # its next pending rung is the reminder of 29 Jul that no sweep has fired yet
    assert vm in lines[1] and "05.08.2019 09:00" in lines[1] and "remind-7d" in lines[1]


def test_deadlines_refuses_a_bad_duration(database_url: str) -> None:
    code, out = run(database_url, "deadlines", "--due-within", "fortnight")
    assert code == 2 and "no duration" in out


def test_simulate_shows_the_days_ahead_and_writes_nothing(
    engine: Engine, database_url: str
) -> None:
    (key,) = consultations(engine, 1)
    before = count(engine, select(func.count()).select_from(history))
    code, out = run(
        database_url, "--now", "2019-07-20T10:00", "simulate", "--until", "2019-08-10",
        "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    assert [(r["day"], r["time"], r["rung"]) for r in rows] == [
        ("2019-07-29", "09:00", "remind-7d"),
        ("2019-08-04", "09:00", "remind-1d"),
        ("2019-08-07", "09:00", "escalate-2wd"),
    ]
    assert {r["key"] for r in rows} == {key}
    # the table groups by day and the database is unchanged
    code, out = run(database_url, "--now", "2019-07-20T10:00", "simulate", "--until", "2019-08-01")
    assert code == 0 and "29.07.2019  09:00" in out and "escalate" not in out
    assert count(engine, select(func.count()).select_from(history)) == before
    fired = select(func.count()).where(deadline_rungs.c.fired_at.is_not(None))
    assert count(engine, fired) == 0


def test_simulate_refuses_a_date_in_the_past(database_url: str) -> None:
    code, out = run(database_url, "--now", "2019-07-20T10:00", "simulate", "--until", "2019-07-01")
    assert code == 2 and "not after now" in out


def test_help_lists_the_commands_without_importing_the_scheduler() -> None:
    result = CliRunner().invoke(cli, ["scheduler", "--help"])
    assert result.exit_code == 0 and "tick" in result.output and "run" in result.output
