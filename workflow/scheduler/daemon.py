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
"""

from __future__ import annotations

import logging
import signal
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from types import FrameType
from typing import Any

from workflow.process.calendar import parse_local_time

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
