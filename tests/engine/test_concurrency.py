"""Concurrency: real CLI processes racing for the same and for different proposals.

PostgreSQL: of eight processes firing the same trigger on the same proposal exactly one
wins; the others are refused with who changed it, when, and the state it is in now.
SQLite: writers queue on the busy timeout instead of failing with "database is locked";
past a (configured, tiny) bounded wait they fail with one clear line and change nothing.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import NOW, REPO
from sqlalchemy import create_engine, func, select, text
from support import add_proposal

from workflow.audit.verify import verify_store
from workflow.engine.engine import Engine
from workflow.store.schema import history, proposals

WORKERS = 8  # processes racing on PostgreSQL
SQLITE_WORKERS = 4  # SQLite serialises every writer: four show the queue as well as eight
NOW_ARG = "2019-07-16T09:00"  # Berlin, one day after the proposals were added


def write_config(tmp_path: Path, *, busy_timeout: float | None = None) -> Path:
    """A config for CLI processes: mail into tmp_path, --as allowed (tests impersonate)."""
    path = tmp_path / f"cli-{busy_timeout}.toml"
    lines = [f'[mail]\nmaildir = "{tmp_path / "mail"}"', "[security]\nallow_impersonation = true"]
    if busy_timeout is not None:
        lines.append(f"[database]\nbusy_timeout_seconds = {busy_timeout}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start(url: str, config: Path, *args: str) -> subprocess.Popen[str]:
    """One real ``ruhrflow`` process (this worktree's code), started and not awaited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "workflow", "--db", url, "--config", str(config)]
    argv += ["--as", "koordination", "--now", NOW_ARG, *args]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )


def finish(procs: Sequence[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Wait for every process; (exit code, stdout, stderr) each."""
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=90)
        out.append((p.returncode, stdout, stderr))
    return out


def history_count(engine: Engine, key: str | None = None) -> int:
    stmt = select(func.count()).select_from(history)
    if key is not None:
        stmt = stmt.where(history.c.chain == key)
    with engine.store.read() as conn:
        return int(conn.execute(stmt).scalar_one())


def state_of(engine: Engine, key: str) -> str:
    with engine.store.read() as conn:
        return str(conn.execute(select(proposals.c.state).where(proposals.c.key == key)).scalar())


def wait_for_lock_waiters(url: str, count: int) -> None:
    """Block until ``count`` backends of this database wait for a lock (PostgreSQL)."""
    probe = create_engine(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with probe.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
            if waiting >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{count} processes never queued for the row lock")
    finally:
        probe.dispose()


def assert_one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and "database is locked" not in stderr
    return lines[0]


# --- the same proposal -------------------------------------------------------------------


@pytest.mark.slow
def test_eight_processes_fire_the_same_trigger_exactly_one_wins(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given a proposal in state idea
    key = add_proposal(engine, NOW)
    before = history_count(engine, key)
    config = write_config(tmp_path)
    holder = None
    if database_url.startswith("postgresql"):
        # hold the row so that all eight read state idea and then queue for it together
        holder = create_engine(database_url).connect()
        holder.execute(text("SELECT 1 FROM proposals WHERE key = :k FOR UPDATE"), {"k": key})
    workers = WORKERS if holder is not None else SQLITE_WORKERS
    # when eight (SQLite: four) processes fire submit at once
    procs = [start(database_url, config, "advance", key, "submit", "--comment", f"worker-{i}")
             for i in range(workers)]  # fmt: skip
    if holder is not None:
        wait_for_lock_waiters(database_url, workers)
        holder.rollback()
        holder.close()
    results = finish(procs)
    # then exactly one wins and the others are refused with the last change, exit 1
    winners = [i for i, (code, _, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    for i, (code, _, stderr) in enumerate(results):
        if i in winners:
            continue
        assert code == 1, (code, stderr)
        line = assert_one_line_error(stderr)
        changed = re.search(r"changed by koordination at \S+, now in state 'proposed'", line)
        already = re.search(
            r"no trigger 'submit' in state 'proposed'.*last change: submit by koordination at",
            line,
        )
        assert changed or already, line
        if database_url.startswith("postgresql"):
            assert changed, line  # every loser read 'idea' before the winner committed
    # and the history has exactly one new entry: the winner's
    assert history_count(engine, key) == before + 1
    assert state_of(engine, key) == "proposed"
    with engine.store.read() as conn:
        comment = conn.execute(
            select(history.c.comment).where(history.c.chain == key, history.c.seq == before + 1)
        ).scalar()
        assert comment == f"worker-{winners[0]}"
    assert verify_store(engine.store, key=engine.audit_key).broken is None


@pytest.mark.slow
def test_concurrent_bulk_advances_apply_once_all_or_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # given 40 proposals in state idea
    keys = [add_proposal(engine, NOW, forum=5) for _ in range(40)]
    config = write_config(tmp_path)
    # when three processes advance every proposal in state idea at once
    procs = [start(database_url, config, "advance", "--where", "state=idea", "submit")
             for _ in range(3)]  # fmt: skip
    results = finish(procs)
    # then one applies all 40 and the others find nothing left to do (a clean refusal)
    assert sorted(code for code, _, _ in results) == [0, 2, 2], results
    for code, _, stderr in results:
        if code:
            assert "no proposal is in state 'idea'" in assert_one_line_error(stderr)
    assert {state_of(engine, k) for k in keys} == {"proposed"}
    assert history_count(engine) == 2 * len(keys)
    assert verify_store(engine.store, key=engine.audit_key).broken is None


# --- disjoint proposals ------------------------------------------------------------------


@pytest.mark.slow
def test_eight_processes_on_eight_proposals_all_succeed(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    workers = WORKERS if database_url.startswith("postgresql") else SQLITE_WORKERS
    keys = [add_proposal(engine, NOW, forum=7) for _ in range(workers)]
    config = write_config(tmp_path)
    results = finish([start(database_url, config, "advance", k, "submit") for k in keys])
    assert [code for code, _, _ in results] == [0] * workers, results
    assert {state_of(engine, k) for k in keys} == {"proposed"}
    assert all(history_count(engine, k) == 2 for k in keys)


def test_postgresql_a_locked_proposal_does_not_block_another(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    # given proposal A is locked by another transaction, B is not
    a, b = add_proposal(engine, NOW), add_proposal(engine, NOW)
    config = write_config(tmp_path, busy_timeout=0.5)
    holder = create_engine(database_url).connect()
    holder.execute(text("SELECT 1 FROM proposals WHERE key = :k FOR UPDATE"), {"k": a})
    try:
        # when B and A are advanced with a lock wait of 0.5 s
        (on_b,) = finish([start(database_url, config, "advance", b, "submit")])
        (on_a,) = finish([start(database_url, config, "advance", a, "submit")])
    finally:
        holder.rollback()
        holder.close()
    # then B goes through and A fails cleanly as busy (exit 3), unchanged
    assert on_b[0] == 0, on_b
    assert on_a[0] == 3, on_a
    assert "busy" in assert_one_line_error(on_a[2])
    assert (state_of(engine, a), state_of(engine, b)) == ("idea", "proposed")
    assert history_count(engine, a) == 1


# --- SQLite: wait, then fail cleanly -----------------------------------------------------


def test_sqlite_writer_past_its_busy_timeout_fails_cleanly_and_changes_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the busy timeout is SQLite's; PostgreSQL is covered above")
    key = add_proposal(engine, NOW)
    config = write_config(tmp_path, busy_timeout=0.2)
    # given another connection holds the write lock
    path = database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # when a CLI process with a 0.2 s busy timeout tries to advance
        results = finish(
            [
                start(database_url, config, "advance", key, "submit"),
                start(database_url, config, "advance", "--where", "state=idea", "submit"),
            ]
        )
    finally:
        holder.rollback()
        holder.close()
    # then each fails with one clear line, exit 3, and nothing changed
    for code, _, stderr in results:
        assert code == 3, stderr
        line = assert_one_line_error(stderr)
        assert "the database is busy" in line and "0.2 s" in line and "nothing was changed" in line
    assert state_of(engine, key) == "idea"
    assert history_count(engine, key) == 1
