"""The audit commands through the click runner: verify, checkpoint, log, export, erasure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from sqlalchemy import create_engine, text
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine

KEY = "RK-03-01"


def run(
    database_url: str, args: Sequence[str], *, actor: str | None = None, key: str | None = None
) -> Result:
    base = ["--db", database_url, "--now", "2019-12-01T10:00"]
    if actor:
        base += ["--as", actor]
    env = {"RUHRFLOW_AUDIT_KEY": key, "RUHRFLOW_ACTOR": None}
    return CliRunner().invoke(cli, [*base, *args], env=env)


@pytest.fixture
def walked(engine: Engine) -> Engine:
    """One proposal in implementation with a progress report: 15 entries, 10:00–19:00."""
    add_proposal(engine, NOW, key=KEY)
    last = walk_to(engine, KEY, "implementation", NOW)
    engine.advance(KEY, "report_progress", actor="im", now=last + timedelta(hours=1),
                   fields={"progress": 50})  # fmt: skip
    return engine


def tamper(database_url: str) -> None:
    eng = create_engine(database_url)
    with eng.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER history_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE history DISABLE TRIGGER USER")
        conn.execute(text("UPDATE history SET comment = 'x' WHERE chain = :k AND seq = 5"),
                     {"k": KEY})  # fmt: skip
    eng.dispose()


def test_verify_says_ok_and_prints_the_heads_digest(walked: Engine, database_url: str) -> None:
    result = run(database_url, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "ok: 15 entries in 1 chains verified (SHA-256)" in result.output
    assert "heads digest " in result.output


def test_verify_names_the_break_and_exits_1(walked: Engine, database_url: str) -> None:
    tamper(database_url)
    result = run(database_url, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"error: audit trail broken at {KEY} seq 5: the entry was changed" in result.output
    as_json = run(database_url, ["audit", "verify", "--format", "json"])
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False and doc["broken"]["chain"] == KEY and doc["broken"]["seq"] == 5


def test_checkpoint_is_printed_recorded_and_verified_against(
    walked: Engine, database_url: str
) -> None:
    result = run(database_url, ["audit", "checkpoint"], actor="pruefung")
    assert result.exit_code == 0, result.output
    digest = result.output.splitlines()[0].removeprefix("checkpoint ")
    assert len(digest) == 64
    assert "at 2019-12-01 10:00 (Europe/Berlin), 15 entries in 1 chains" in result.output
    log = run(database_url, ["audit", "log", "@system", "--format", "json"])
    (entry,) = json.loads(log.stdout)
    assert entry["kind"] == "checkpoint" and entry["data"]["digest"] == digest
    checked = run(database_url, ["audit", "verify", "--checkpoint", digest])
    assert checked.exit_code == 0, checked.output
    assert "nothing truncated or deleted since" in checked.output
    unknown = run(database_url, ["audit", "verify", "--checkpoint", "ab" * 32])
    assert unknown.exit_code == 1
    assert "no checkpoint with digest" in unknown.output


def test_checkpoint_needs_an_identity(walked: Engine, database_url: str) -> None:
    result = run(database_url, ["audit", "checkpoint"])
    assert result.exit_code == 2
    assert "--as" in result.output


def test_log_filters_by_key_time_actor_and_trigger(walked: Engine, database_url: str) -> None:
    all_rows = json.loads(run(database_url, ["audit", "log", "--format", "json"]).stdout)
    assert len(all_rows) == 15
    progress = run(database_url, ["audit", "log", KEY, "--actor", "im", "--format", "json"])
    assert [e["trigger"] for e in json.loads(progress.stdout)] == ["report_progress"]
    statements = run(database_url, ["audit", "log", "--trigger", "record_statement",
                                    "--format", "csv"])  # fmt: skip
    lines = statements.stdout.splitlines()
    assert lines[0].startswith("key,seq,at,actor,kind,trigger")
    assert len(lines) == 1 + 4
    # walk_to steps one hour per transition from 10:00 Berlin on 15 Jul 2019
    day = run(database_url, ["audit", "log", "--since", "2019-07-15", "--until", "2019-07-15"])
    assert len(day.stdout.splitlines()) == 15
    assert run(database_url, ["audit", "log", "--since", "2019-07-16"]).stdout == ""
    afternoon = run(database_url, ["audit", "log", "--since", "2019-07-15T15:00"])
    assert len(afternoon.stdout.splitlines()) == 6  # approve … report_progress
    text_out = run(database_url, ["audit", "log", KEY]).stdout.splitlines()
    assert text_out[0] == f"2019-07-15 10:00  {KEY} #1  koordination  create  idea"
    assert run(database_url, ["audit", "log", "RK-99-99"]).exit_code == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_offline_and_shows_tampering(
    walked: Engine, database_url: str, tmp_path: Path, fmt: str
) -> None:
    checkpoint = run(database_url, ["audit", "checkpoint"], actor="pruefung")
    digest = checkpoint.output.splitlines()[0].removeprefix("checkpoint ")
    out = tmp_path / f"export.{fmt}"
    exported = run(database_url, ["audit", "export", "--format", fmt, "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "exported 16 entries of 2 chains" in exported.output
    ok = run(database_url, ["audit", "verify", "--file", str(out), "--checkpoint", digest])
    assert ok.exit_code == 0, ok.output
    assert "ok: 16 entries in 2 chains verified in" in ok.output
    # a third party changes the reported progress in the file
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    victim = next(i for i, ln in enumerate(lines) if "report_progress" in ln)
    lines[victim] = lines[victim].replace(":50}", ":90}")
    out.write_text("".join(lines), encoding="utf-8")
    bad = run(database_url, ["audit", "verify", "--file", str(out)])
    assert bad.exit_code == 1
    assert f"{KEY} seq 15: the entry was changed" in bad.output


def test_an_export_cut_off_at_the_end_shows(
    walked: Engine, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "export.jsonl"
    run(database_url, ["audit", "export", "--format", "jsonl", "--output", str(out)])
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:-3]), encoding="utf-8")  # the trailer and two entries
    result = run(database_url, ["audit", "verify", "--file", str(out)])
    assert result.exit_code == 1
    assert "trailer line is missing" in result.output


def test_a_keyed_export_needs_the_key(walked: Engine, database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    run(database_url, ["audit", "export", "--format", "jsonl", "--output", str(out)])
    wrong = run(database_url, ["audit", "verify", "--file", str(out)], key="falsch")
    assert wrong.exit_code == 1
    assert "audit key" in wrong.output


def test_pseudonymise_command(walked: Engine, database_url: str) -> None:
    refused = run(database_url, ["audit", "pseudonymise", "im"], actor="pruefung")
    assert refused.exit_code == 1
    result = run(database_url, ["audit", "pseudonymise", "im"], actor="koordination")
    assert result.exit_code == 0, result.output
    pseudonym = result.output.split(" as ")[1].split()[0]
    log = run(database_url, ["audit", "log", KEY, "--trigger", "report_progress"])
    assert pseudonym in log.stdout and " im " not in log.stdout
    assert run(database_url, ["audit", "verify"]).exit_code == 0
