"""The public progress reports: status groups, lead times, overdue deadlines."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from sqlalchemy import func, insert, select
from support import add_proposal, walk_to

from workflow.app.runtime import Runtime
from workflow.audit.reports import (
    ABGESCHLOSSEN,
    IN_PRUEFUNG,
    IN_UMSETZUNG,
    IN_VORBEREITUNG,
    NICHT_GEZAEHLT,
    NICHT_WEITERVERFOLGT,
    lead_times,
    newest_definition,
    overdue,
    percentile,
    status_report,
)
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.schema import deadlines, proposals

DAY = timedelta(days=1)


def run(database_url: str, *args: str, now: str = "2019-12-01T10:00") -> Result:
    env = {"RUHRFLOW_AUDIT_KEY": None, "RUHRFLOW_ACTOR": None}
    return CliRunner().invoke(cli, ["--db", database_url, "--now", now, *args], env=env)


@pytest.fixture
def portfolio(engine: Engine) -> Engine:
    """Six proposals in every status group, over three Handlungsfelder."""
    add_proposal(engine, NOW, key="RK-01-01", handlungsfeld=1)  # idea
    walk_to(engine, add_proposal(engine, NOW, key="RK-03-01"), "proposed", NOW)
    walk_to(engine, add_proposal(engine, NOW, key="RK-03-02"), "completed", NOW)
    walk_to(engine, add_proposal(engine, NOW, key="RK-02-01", handlungsfeld=2), "approved", NOW)
    walk_to(engine, add_proposal(engine, NOW, key="RK-02-02", handlungsfeld=2),
            "implementation", NOW)  # fmt: skip
    add_proposal(engine, NOW, key="RK-01-02", handlungsfeld=1)
    engine.advance("RK-01-02", "withdraw", actor="koordination", now=NOW + DAY,
                   fields={"reason": "Doppelt eingereicht"})  # fmt: skip
    return engine


def test_status_groups_states_as_the_public_reports_do(portfolio: Engine) -> None:
    with portfolio.store.read() as conn:
        rows = status_report(conn, newest_definition(conn))
    by_state = {(r["group"], r["state"]): r for r in rows}
    # counted publicly are the decided projects: in Prüfung = decided, not yet started
    assert by_state[(IN_PRUEFUNG, "approved")]["hf2"] == 1
    assert by_state[(IN_UMSETZUNG, "implementation")]["hf2"] == 1
    assert by_state[(ABGESCHLOSSEN, "completed")]["hf3"] == 1
    # before the cabinet decision, or closed without one: listed apart
    assert by_state[(IN_VORBEREITUNG, "idea")]["hf1"] == 1
    assert by_state[(IN_VORBEREITUNG, "proposed")]["hf3"] == 1
    assert by_state[(NICHT_GEZAEHLT, "withdrawn")]["hf1"] == 1
    totals = {r["group"]: r["total"] for r in rows if r["state"] == "gesamt"}
    assert totals == {IN_PRUEFUNG: 1, IN_UMSETZUNG: 1, ABGESCHLOSSEN: 1,
                      NICHT_WEITERVERFOLGT: 0, "gesamt": 3,
                      IN_VORBEREITUNG: 2, NICHT_GEZAEHLT: 1}  # fmt: skip
    assert by_state[("gesamt", "gesamt")] == {
        "group": "gesamt", "state": "gesamt", "label": "",
        "hf1": 0, "hf2": 2, "hf3": 1, "hf4": 0, "hf5": 0, "total": 3,
    }  # fmt: skip


def test_status_command_formats(portfolio: Engine, database_url: str) -> None:
    table = run(database_url, "report", "status")
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].split() == [
        "GROUP", "STATE", "HF1", "HF2", "HF3", "HF4", "HF5", "TOTAL"
    ]  # fmt: skip
    doc = json.loads(run(database_url, "report", "status", "--format", "json").stdout)
    assert doc["groups"] == {IN_PRUEFUNG: 1, IN_UMSETZUNG: 1, ABGESCHLOSSEN: 1,
                             NICHT_WEITERVERFOLGT: 0}  # fmt: skip
    assert doc["outside"] == {IN_VORBEREITUNG: 2, NICHT_GEZAEHLT: 1}
    rows = list(csv.DictReader(io.StringIO(run(database_url, "report", "status",
                                               "--format", "csv").stdout)))  # fmt: skip
    completed = next(r for r in rows if r["state"] == "completed")
    assert completed["label"] == "Abgeschlossen" and completed["total"] == "1"


def _advance(engine: Engine, key: str, trigger: str, at: datetime) -> None:
    engine.advance(key, trigger, actor="koordination", now=at)


def test_lead_times_are_median_and_p90_of_finished_stays(engine: Engine) -> None:
    # given three proposals that stayed 2, 4 and 10 days as ideas and 1 day proposed
    for key, idea_days in (("RK-03-01", 2), ("RK-03-02", 4), ("RK-03-03", 10)):
        add_proposal(engine, NOW, key=key)
        _advance(engine, key, "submit", NOW + idea_days * DAY)
        _advance(engine, key, "open_consultation", NOW + (idea_days + 1) * DAY)
    # a statement inside consultation ends no stay; consultation itself is still going on
    engine.record_statement("RK-03-01", party="Stadt Essen", group="kommune", position="support",
                            text="", actor="koordination", now=NOW + 20 * DAY)  # fmt: skip
    with engine.store.read() as conn:
        rows = {(r["level"], r["name"]): r for r in lead_times(conn, newest_definition(conn))}
    assert rows[("state", "idea")] == {
        "level": "state", "name": "idea", "label": "Idee im Themenforum",
        "n": 3, "median_days": 4.0, "p90_days": 8.8,
    }  # fmt: skip
    assert (rows[("state", "proposed")]["median_days"], rows[("state", "proposed")]["n"]) == (1, 3)
    zuhoeren = rows[("phase", "zuhoeren")]
    assert (zuhoeren["n"], zuhoeren["median_days"], zuhoeren["p90_days"]) == (3, 5.0, 9.8)
    assert ("state", "consultation") not in rows
    assert next(iter(rows)) == ("phase", "zuhoeren")  # phases first, in definition order


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 0.0, 5.0], 0.9) == pytest.approx(9.0)


def test_lead_times_command(engine: Engine, database_url: str) -> None:
    add_proposal(engine, NOW, key="RK-03-01")
    _advance(engine, "RK-03-01", "submit", NOW + 3 * DAY)
    result = run(database_url, "report", "lead-times", "--format", "csv")
    assert result.exit_code == 0, result.output
    # the idea stay is finished; the phase zuhoeren goes on (the proposal is proposed)
    assert result.stdout.splitlines() == [
        "level,name,label,n,median_days,p90_days",
        "state,idea,Idee im Themenforum,1,3.00,3.00",
    ]


def _deadline(engine: Engine, key: str, due_days: float, status: str = "open") -> None:
    # Only the deadlines inserted here exist: the tests below run an engine without effects.
    with engine.store.write() as conn:
        pid = conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one()
        n = conn.execute(select(func.count()).select_from(deadlines)).scalar_one()
        conn.execute(
            insert(deadlines).values(
                proposal_id=pid, proposal_key=key, kind="consultation", state="consultation",
                entry_seq=100 + n, due_at=NOW + due_days * DAY, status=status, created_at=NOW,
            )
        )  # fmt: skip


def test_overdue_lists_open_past_deadlines_by_ministry(runtime: Runtime) -> None:
    # given deadlines of IM and MWIDE proposals: past, future, and past but closed
    engine = Engine(
        runtime.store, runtime.directory, audit_key=runtime.settings.audit_key
    )  # no deadlines but the ones inserted below
    add_proposal(engine, NOW, key="RK-03-01", lead="IM")
    add_proposal(engine, NOW, key="RK-03-02", lead="IM")
    add_proposal(engine, NOW, key="RK-02-01", lead="MWIDE", handlungsfeld=2)
    _deadline(engine, "RK-03-02", 5)
    _deadline(engine, "RK-03-01", 8)
    _deadline(engine, "RK-02-01", 9)
    _deadline(engine, "RK-02-01", 20)  # not yet due
    _deadline(engine, "RK-03-01", 1, status="closed")  # done in time
    # when asked ten days later
    with engine.store.read() as conn:
        groups = overdue(conn, NOW + 10 * DAY, runtime.directory)
    # then per ministry, oldest first
    assert [(g["ministry"], g["overdue"]) for g in groups] == [("IM", 2), ("MWIDE", 1)]
    assert groups[0]["name"] == "Ministerium des Innern"
    assert [(d["key"], d["days_overdue"]) for d in groups[0]["deadlines"]] == [
        ("RK-03-02", 5.0), ("RK-03-01", 2.0)
    ]  # fmt: skip


def test_overdue_command_formats(runtime: Runtime, database_url: str) -> None:
    engine = Engine(
        runtime.store, runtime.directory, audit_key=runtime.settings.audit_key
    )  # no deadlines but the one inserted below
    add_proposal(engine, NOW, key="RK-03-01", lead="IM")
    _deadline(engine, "RK-03-01", 2)
    later = "2019-07-20T10:00"
    table = run(database_url, "report", "overdue", now=later)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0] == "IM  Ministerium des Innern: 1 overdue"
    assert "RK-03-01" in table.stdout and "17.07.2019 10:00" in table.stdout
    doc = json.loads(run(database_url, "report", "overdue", "--format", "json", now=later).stdout)
    assert doc[0]["deadlines"][0]["days_overdue"] == 3.0
    flat = run(database_url, "report", "overdue", "--format", "csv", now=later).stdout
    assert flat.splitlines()[1].startswith("IM,RK-03-01,consultation,consultation,")
    nothing = run(database_url, "report", "overdue", now="2019-07-16T10:00")
    assert nothing.stdout.strip() == "no open deadline is past due"
