"""``ruhrflow scheduler run``: APScheduler runs the sweeps; the truth stays in our tables.

A ``BackgroundScheduler`` in Europe/Berlin with a memory job store (nothing of APScheduler
is shared between processes, so several daemons may run against one PostgreSQL
database: the sweep itself is safe to run concurrently). Jobs:

* ``deadline-sweep`` every ``interval_seconds`` (default one minute);
* ``outbox-delivery`` every minute, when a callable is given (the notifications);
* ``weekly-digest`` on a weekday at a local time (Monday 07:00), when a callable is given.

Every job has an explicit ``misfire_grace_time``, ``coalesce=True`` (a backlog runs once)
and ``max_instances=1``. SIGINT and SIGTERM stop the scheduler; a sweep in progress
finishes its transaction first.

The signal handler only raises a flag. It used to call ``scheduler.shutdown()`` itself, on
the main thread, which at that moment could be inside APScheduler handing a job to the thread
pool — holding the pool's (non-reentrant) lock that ``shutdown`` takes: the daemon then waited
for itself forever after SIGTERM (seen under load in the README tour test; ``py-spy dump``
showed ``shutdown`` inside ``submit``). So the scheduler runs on its own thread and the main
thread, outside any handler, waits for the flag and shuts it down.

Every job runs inside :class:`JobMonitor`: it times the run, writes the state file that
``serve``'s ``/readyz`` and ``/metrics`` read (:mod:`workflow.scheduler.state`), and turns an
expected database outage into one WARNING line per job run (not APScheduler's traceback of
a hundred lines every minute); a delivery failure of a notice is a WARNING line too.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from types import FrameType
from typing import Any

from workflow.errors import StoreUnavailable
from workflow.process.calendar import parse_local_time
from workflow.scheduler.state import SchedulerState, write_state

log = logging.getLogger("ruhrflow.scheduler")

SWEEP_JOB = "deadline-sweep"
OUTBOX_JOB = "outbox-delivery"
DIGEST_JOB = "weekly-digest"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DaemonOptions:
    """How often and when the jobs run (from ``[scheduler]`` in the settings)."""

    interval_seconds: float = 60.0
    misfire_grace_seconds: int = 30
    outbox_interval_seconds: float = 60.0
    digest_day: str = "mon"
    digest_time: time = time(7, 0)
    timezone: str = "Europe/Berlin"

    @classmethod
    def from_settings(cls, section: dict[str, Any] | Any, timezone: str) -> DaemonOptions:
        """Read the ``[scheduler]`` section; a bad value raises ValueError."""
        day = str(section.get("digest_day", "mon")).lower()
        if day not in WEEKDAYS:
            raise ValueError(f"scheduler.digest_day must be one of {', '.join(WEEKDAYS)}")
        return cls(
            interval_seconds=float(section.get("sweep_interval_seconds", 60)),
            misfire_grace_seconds=int(section.get("misfire_grace_seconds", 30)),
            outbox_interval_seconds=float(section.get("outbox_interval_seconds", 60)),
            digest_day=day,
            digest_time=parse_local_time(str(section.get("digest_time", "07:00"))),
            timezone=timezone,
        )


def build_scheduler(
    sweep_job: Callable[[], Any],
    options: DaemonOptions,
    *,
    outbox_job: Callable[[], Any] | None = None,
    digest_job: Callable[[], Any] | None = None,
    first_run: datetime | None = None,
) -> Any:
    """A configured (not started) BackgroundScheduler with the ruhrflow jobs.

    ``first_run`` (aware) makes the sweep start at once instead of after one interval.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if options.digest_time.hour == 2:  # parse_local_time refuses it; a constructed one not
        raise ValueError("the digest must not run between 02:00 and 03:00 (clock changes)")
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=3)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": options.misfire_grace_seconds,
        },
        timezone=options.timezone,
    )
    scheduler.add_job(
        sweep_job,
        IntervalTrigger(seconds=options.interval_seconds, timezone=options.timezone),
        id=SWEEP_JOB,
        name="deadline sweep",
        next_run_time=first_run,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=options.misfire_grace_seconds,
    )
    if outbox_job is not None:
        scheduler.add_job(
            outbox_job,
            IntervalTrigger(seconds=options.outbox_interval_seconds, timezone=options.timezone),
            id=OUTBOX_JOB,
            name="outbox delivery",
            next_run_time=first_run,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=options.misfire_grace_seconds,
        )
    if digest_job is not None:
        scheduler.add_job(
            digest_job,
            CronTrigger(
                day_of_week=options.digest_day,
                hour=options.digest_time.hour,
                minute=options.digest_time.minute,
                timezone=options.timezone,
            ),
            id=DIGEST_JOB,
            name="weekly digest",
            coalesce=True,
            max_instances=1,
            # A digest missed by a restart still goes out if the daemon is back within 6 h.
            misfire_grace_time=6 * 3600,
        )
    return scheduler


POLL_SECONDS = 0.2  # how soon the main thread sees a stop request


def run_until_signalled(scheduler: Any) -> None:
    """Run ``scheduler`` until SIGINT or SIGTERM; then stop it cleanly (running jobs finish).

    The handlers only set a flag (see the module doc): no lock is taken inside a handler.
    """
    requested: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        requested.append(signum)  # list.append takes no lock that the main thread may hold

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.start()
        log.info("scheduler started: jobs %s", ", ".join(j.id for j in scheduler.get_jobs()))
        while not requested:
            _time.sleep(POLL_SECONDS)
        log.info("received %s: stopping the scheduler", signal.Signals(requested[0]).name)
        scheduler.shutdown(wait=True)  # a running sweep or delivery finishes its transaction
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")


class JobMonitor:
    """Wraps the daemon's jobs: times them, records them in the state file, logs outages in
    one line. ``state_file`` None records nothing (a daemon whose state nobody reads)."""

    def __init__(self, state_file: Path | None, wall: Callable[[], float] = _time.time) -> None:
        self.state_file = state_file
        self.state = SchedulerState(pid=os.getpid())
        self.wall = wall
        self._lock = threading.Lock()  # the jobs run on several threads of the pool

    def wrap(self, job: str, run: Callable[[], Any]) -> Callable[[], Any]:
        """``run`` as a job that never raises: its outcome goes to the log and the state."""

        def monitored() -> Any:
            started, clock = self.wall(), _time.perf_counter()
            result, ok = None, False
            try:
                result = run()
                ok = True
            except StoreUnavailable as exc:  # expected: the database is down or restarting
                log.warning("%s: database unavailable, next run tries again: %s", job, exc)
            except Exception as exc:  # the daemon lives on; the next run tries again
                log.error("%s failed: %s: %s", job, type(exc).__name__, exc)
            if ok:
                _log_delivery_problems(job, result)
            with self._lock:
                self.state.record(job, started, _time.perf_counter() - clock, ok)
                self.save()
            return result

        return monitored

    def save(self) -> None:
        """Write the state file (a failure to write is logged, never fatal)."""
        if self.state_file is None:
            return
        try:
            write_state(self.state_file, self.state)
        except OSError as exc:
            log.warning("cannot write the scheduler state file %s: %s", self.state_file, exc)


def _log_delivery_problems(job: str, result: Any) -> None:
    for problem in getattr(result, "problems", None) or ():
        log.warning(
            "%s: notice %s (%s) not delivered, %s: %s",
            job,
            problem.notice_id,
            problem.idempotency_key,
            "failed for good" if problem.status == "failed" else "to retry",
            problem.error,
            extra={"notice": problem.notice_id, "job": job},
        )
