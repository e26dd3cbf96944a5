"""The daemon: APScheduler configuration, and real `scheduler run` processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time as _time
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal, walk_to

from workflow.engine.engine import Engine
from workflow.process.calendar import BERLIN
from workflow.scheduler.daemon import (
    DIGEST_JOB,
    OUTBOX_JOB,
    SWEEP_JOB,
    DaemonOptions,
    build_scheduler,
)
from workflow.store.schema import actor_refs, deadline_rungs, history

REPO = Path(__file__).resolve().parents[2]
SWEEP_LINE = re.compile(r"sweep at \S+: reminder=(\d+) escalation=(\d+) late=(\d+) skipped=(\d+)")


def noop() -> None:
    """A job that does nothing."""


def test_the_scheduler_runs_the_sweep_every_interval_with_explicit_misfire_rules() -> None:
    options = DaemonOptions(interval_seconds=60, misfire_grace_seconds=45)
    scheduler = build_scheduler(noop, options)
    (job,) = scheduler.get_jobs()
    assert job.id == SWEEP_JOB
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval.total_seconds() == 60
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (45, True, 1)
    assert str(scheduler.timezone) == "Europe/Berlin"
    # on a thread of its own: the main thread waits for SIGINT/SIGTERM outside any handler
    assert type(scheduler).__name__ == "BackgroundScheduler"


def test_outbox_and_digest_jobs_are_added_when_given() -> None:
    scheduler = build_scheduler(noop, DaemonOptions(), outbox_job=noop, digest_job=noop)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {SWEEP_JOB, OUTBOX_JOB, DIGEST_JOB}
    assert all(job.coalesce and job.misfire_grace_time for job in jobs.values())
    assert isinstance(jobs[DIGEST_JOB].trigger, CronTrigger)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # the Saturday before the spring change → Monday 1 Apr 07:00 CEST
        (datetime(2019, 3, 30, 12, tzinfo=BERLIN), datetime(2019, 4, 1, 7, tzinfo=BERLIN)),
        # the Saturday before the autumn change → Monday 28 Oct 07:00 CET
        (datetime(2019, 10, 26, 12, tzinfo=BERLIN), datetime(2019, 10, 28, 7, tzinfo=BERLIN)),
    ],
)
def test_the_weekly_digest_stays_at_seven_across_the_clock_changes(
    after: datetime, expected: datetime
) -> None:
    scheduler = build_scheduler(noop, DaemonOptions(), digest_job=noop)
    digest = scheduler.get_job(DIGEST_JOB)
    fire = digest.trigger.get_next_fire_time(None, after)
    assert fire == expected
    assert fire.astimezone(BERLIN).time() == time(7, 0)


def test_a_daily_job_between_two_and_three_is_refused() -> None:
    with pytest.raises(ValueError, match="02:00 and 03:00"):
        DaemonOptions.from_settings({"digest_time": "02:15"}, "Europe/Berlin")
    with pytest.raises(ValueError, match="02:00 and 03:00"):
        build_scheduler(noop, DaemonOptions(digest_time=time(2, 30)), digest_job=noop)
    with pytest.raises(ValueError, match="digest_day"):
        DaemonOptions.from_settings({"digest_day": "someday"}, "Europe/Berlin")


# --- real processes ---------------------------------------------------------------------------

# Consultations opened 15 Jul 2019 12:00: all three rungs are due by 7 Aug 2019 09:00.
DUE_NOW = "2019-08-08T10:00"


def start_daemon(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    cmd = [
        sys.executable, "-m", "workflow", "--db", database_url, "--now", DUE_NOW,
        "scheduler", "run", "--interval-seconds", "0.5",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=log.parent, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )


def sweep_lines(log: Path) -> list[tuple[int, int, int, int]]:
    text = log.read_text(encoding="utf-8", errors="replace")
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in SWEEP_LINE.findall(text)]


def wait_for(condition: Any, timeout: float = 15.0) -> bool:
    deadline = _time.monotonic() + timeout
    while _time.monotonic() < deadline:
        if condition():
            return True
        _time.sleep(0.1)  # polling real processes, not modelling time
    return bool(condition())


@pytest.fixture
def daemons() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:  # never leave a daemon behind, even when an assertion failed
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_two_scheduler_processes_duplicate_nothing_and_stop_on_sigterm(
    engine: Engine, database_url: str, tmp_path: Path, daemons: list[subprocess.Popen[bytes]]
) -> None:
    # given six consultations whose eighteen rungs are all due
    for _ in range(6):
        walk_to(engine, add_proposal(engine, NOW), "consultation", NOW)
    logs = [tmp_path / "daemon-a.log", tmp_path / "daemon-b.log"]
    # when two real `scheduler run` processes sweep the same database every 0.5 s
    daemons.extend(start_daemon(database_url, log) for log in logs)

    def fired() -> int:
        with engine.store.read() as conn:
            stmt = select(func.count()).where(deadline_rungs.c.fired_at.is_not(None))
            return int(conn.execute(stmt).scalar_one())

    assert wait_for(lambda: fired() == 18 and all(len(sweep_lines(p)) >= 3 for p in logs)), [
        p.read_text() for p in logs
    ]
    # then they are stopped with SIGTERM and exit 0 after a clean shutdown
    for proc in daemons:
        proc.send_signal(signal.SIGTERM)
    assert [proc.wait(timeout=15) for proc in daemons] == [0, 0]
    for log in logs:
        assert "scheduler stopped" in log.read_text()
    # and every rung fired once (the reminders, after their deadline, as skipped), with one
    # history entry each, split between the two
    totals = [sum(a + b + d for a, b, _, d in sweep_lines(log)) for log in logs]
    assert sum(totals) == 18
    with engine.store.read() as conn:
        entries = conn.execute(
            select(history.c.chain, history.c.trigger)
            .join(actor_refs, actor_refs.c.ref == history.c.actor_ref)
            .where(
                actor_refs.c.actor_id == "ruhrflow",
                # not the notice_sent entries
                history.c.kind.in_(("reminder", "escalation", "rung_skipped")),
            )
        ).all()
    assert len(entries) == len(set(entries)) == 18
    assert fired() == 18


def test_sigint_stops_the_daemon_cleanly(
    database_url: str, tmp_path: Path, daemons: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "daemon.log"
    proc = start_daemon(database_url, log)
    daemons.append(proc)
    assert wait_for(lambda: len(sweep_lines(log)) >= 1), log.read_text()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    text = log.read_text()
    assert "received SIGINT" in text and "scheduler stopped" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_sigterm_while_jobs_are_being_handed_to_the_pool_stops_the_daemon(
    database_url: str, tmp_path: Path, daemons: list[subprocess.Popen[bytes]]
) -> None:
    # given daemons signalled the moment their first sweep is logged: the outbox job is due
    # at the same moment, so APScheduler is likely still handing it to a new pool thread
    # (the handler once shut the pool down right there, on the same thread, and waited for
    # the pool's lock, which that thread held, forever)
    for attempt in range(10):
        log = tmp_path / f"daemon-{attempt}.log"
        proc = start_daemon(database_url, log)
        daemons.append(proc)
        deadline = _time.monotonic() + 30
        while "sweep at" not in log.read_text() and _time.monotonic() < deadline:
            _time.sleep(0.002)  # polling a real process's log as tightly as we can
        # when it gets SIGTERM
        proc.send_signal(signal.SIGTERM)
        # then it stops cleanly, every time
        assert proc.wait(timeout=30) == 0, log.read_text()
        assert "scheduler stopped" in log.read_text()
