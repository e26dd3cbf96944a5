"""The daemon tells serve how it is (the state file), waits for its database and logs an
outage in one line (issue #26)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time as _time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workflow.errors import StoreUnavailable
from workflow.notices.delivery import DeliveryCounts, DeliveryProblem
from workflow.scheduler.daemon import JobMonitor
from workflow.scheduler.state import read_state

REPO = Path(__file__).resolve().parents[2]


def fixed_wall(start: float = 1_000_000.0) -> Callable[[], float]:
    return lambda: start


def test_an_outage_is_one_warning_line_and_the_state_says_the_run_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_file = tmp_path / "state.json"
    monitor = JobMonitor(state_file, wall=fixed_wall())

    def down() -> None:
        raise StoreUnavailable("cannot use the database postgresql://u:***@db/x: refused")

    # when the sweep meets a database that is down
    with caplog.at_level(logging.INFO, logger="ruhrflow.scheduler"):
        assert monitor.wrap("sweep", down)() is None
    # then one warning line, no traceback, and the state says: ran, did not succeed
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "sweep: database unavailable" in record.getMessage()
    state = read_state(state_file)
    assert state is not None
    sweep = state.jobs["sweep"]
    assert (sweep.last_run, sweep.last_success, sweep.ok) == (1_000_000.0, None, False)


def test_a_run_that_succeeds_is_noted_and_each_delivery_failure_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_file = tmp_path / "state.json"
    monitor = JobMonitor(state_file, wall=fixed_wall())
    problem = DeliveryProblem(7, "rung:1:reminder", "pending", "421 try later", False)
    counts = DeliveryCounts(retried=1, problems=[problem])
    # when a delivery run ends with one notice to retry
    with caplog.at_level(logging.INFO, logger="ruhrflow.scheduler"):
        assert monitor.wrap("delivery", lambda: counts)() is counts
    # then the run is a success in the state, and the notice's failure a warning
    state = read_state(state_file)
    assert state is not None and state.jobs["delivery"].last_success == 1_000_000.0
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "notice 7 (rung:1:reminder) not delivered, to retry: 421 try later" in (
        record.getMessage()
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = _time.monotonic() + timeout
    while _time.monotonic() < deadline:
        if condition():
            return True
        _time.sleep(0.1)  # polling a real process, not modelling time
    return condition()


@pytest.fixture
def daemon() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_the_daemon_writes_its_state_file_where_serve_reads_it(
    database_url: str, tmp_path: Path, daemon: list[subprocess.Popen[bytes]]
) -> None:
    # given the daemon started in its working directory
    log = tmp_path / "daemon.log"
    cmd = [sys.executable, "-m", "workflow", "--db", database_url, "scheduler", "run",
           "--interval-seconds", "0.5"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stderr=log.open("wb"))
    daemon.append(proc)
    state_file = tmp_path / "scheduler-state.json"

    def both_succeeded() -> bool:
        state = read_state(state_file)
        return state is not None and all(
            state.jobs[job].last_success is not None for job in ("sweep", "delivery")
        )

    # then the file soon says that a sweep and a delivery succeeded, and by which process
    assert _wait_for(both_succeeded), log.read_text()
    raw = json.loads(state_file.read_text())
    assert raw["pid"] == proc.pid
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()


def test_without_its_database_the_daemon_waits_then_exits_3_in_one_line_per_try(
    database_url: str, tmp_path: Path
) -> None:
    # given a database that is not there, and a wait of one second
    config = tmp_path / "ruhrflow.toml"
    config.write_text("[database]\nwait_seconds = 1\nwait_max_interval_seconds = 0.5\n")
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/no/such/dir/ruhrflow.db"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    # when the daemon starts
    done = subprocess.run(
        [sys.executable, "-m", "workflow", "--config", str(config), "--db", url,
         "scheduler", "run"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # then it tried more than once, said so in one line each, and gave up with exit 3
    assert done.returncode == 3, done.stderr
    tries = [line for line in done.stderr.splitlines() if "database unavailable (try" in line]
    assert len(tries) >= 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: ")


def test_a_postgresql_outage_is_one_line_per_run_and_the_daemon_recovers(
    database_url: str,
    tmp_path: Path,
    postgres_admin_url: str,
    daemon: list[subprocess.Popen[bytes]],
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("an outage of a server; SQLite is a file (its errors: the tests above)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    log = tmp_path / "daemon.log"
    state_file = tmp_path / "scheduler-state.json"
    cmd = [sys.executable, "-m", "workflow", "--db", database_url, "scheduler", "run",
           "--interval-seconds", "0.5"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stderr=log.open("wb"))
    daemon.append(proc)

    def swept_since(moment: float) -> bool:
        state = read_state(state_file)
        success = state.jobs["sweep"].last_success if state else None
        return success is not None and success > moment

    assert _wait_for(lambda: swept_since(0)), log.read_text()
    try:
        # when the database refuses every connection and drops the open ones
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )

        def outage_lines() -> list[str]:
            return [ln for ln in log.read_text().splitlines() if "database unavailable" in ln]

        # then each job run says so in one line, and the daemon lives on
        assert _wait_for(lambda: len(outage_lines()) >= 3), log.read_text()
        assert proc.poll() is None
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    # and once the database is back, it sweeps again by itself
    back = _time.time()
    assert _wait_for(lambda: swept_since(back)), log.read_text()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    text_of_log = log.read_text()
    assert "Traceback" not in text_of_log, text_of_log
