"""The simulated clock: the queue of scripted steps and the scheduler moments between them.

The real engine, the real deadline sweeps, the real outbox and digest run under it: ``now``
jumps from one moment to the next (a scripted step of the process, a reminder or escalation
coming due, Monday 07:00 for the weekly digest), and nothing sleeps. At every such moment
the scheduler's own ``tick`` runs, exactly as ``ruhrflow scheduler tick --now …`` would.
"""

from __future__ import annotations

import heapq
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workflow.app.tick import SchedulerHooks, scheduler_hooks, tick
from workflow.demo.facts import END, at
from workflow.demo.mail import MailWriter, deliver_pass
from workflow.process.vocabulary import BERLIN
from workflow.store import chains
from workflow.store import demo as demo_store

Progress = Callable[[str], None]


@dataclass(order=True)
class _Event:
    when: datetime
    order: int
    label: str = field(compare=False)
    action: Callable[[datetime], None] = field(compare=False)


def one_run_hooks(
    runtime: Any, clock: Callable[[], datetime], writer: MailWriter
) -> SchedulerHooks:
    """The scheduler's hooks as one process playing the whole run uses them.

    The same sweep notices and digests as :func:`scheduler_hooks`; delivery the same pass at
    the same moments (:func:`~workflow.demo.mail.deliver_pass`: the same claims, checks and
    marks as :func:`~workflow.notices.delivery.deliver`, in one transaction), with one
    :class:`Delivery` for the whole run instead of one per pass: the directory, the templates
    and the definitions of the provenance check are read once, not again before each of the
    two thousand passes (the demo changes none of them). ``writer`` makes the mails
    (workflow/demo/mail.py).
    """
    base = scheduler_hooks(runtime, clock)
    delivery = runtime.delivery()

    def deliver_outbox() -> Any:
        deliver_pass(delivery, writer, clock())

    return SchedulerHooks(
        on_rung=base.on_rung, deliver_outbox=deliver_outbox, weekly_digest=base.weekly_digest
    )


class Simulation:
    """The clock, the queue of scripted steps and the scheduler moments between them.

    ``plain``: the scheduler's hooks exactly as ``scheduler tick`` builds them at every
    moment (slower; the test that the one-run hooks change nothing compares the two).
    """

    def __init__(self, runtime: Any, progress: Progress, *, plain: bool = False) -> None:
        self.runtime = runtime
        self.engine = runtime.engine
        self.store = runtime.store
        self.progress = progress
        self.now = at(2019, 7, 1, 9)
        clock = lambda: self.now  # noqa: E731
        self.mail: MailWriter | None = None
        if plain:
            self.hooks = scheduler_hooks(runtime, clock)
        else:
            self.mail = MailWriter(runtime.delivery(), runtime.settings.mail.maildir)
            self.hooks = one_run_hooks(runtime, clock, self.mail)
        self.queue: list[_Event] = []
        self._order = 0
        self.next_digest = _next_monday_seven(self.now)
        self.fired = {"reminder": 0, "escalation": 0}
        self.quarter = _quarter(self.now)

    def schedule(self, when: datetime, label: str, action: Callable[[datetime], None]) -> None:
        """Run ``action(now)`` at ``when`` (steps at the same moment keep their order)."""
        self._order += 1
        heapq.heappush(self.queue, _Event(when, self._order, label, action))

    def _next_rung(self) -> datetime | None:
        with self.store.read() as conn:
            return demo_store.next_rung_at(conn)

    def _reach(self, now: datetime) -> None:
        """Move the clock to ``now``, with a line for every simulated quarter begun."""
        while _quarter(now) > self.quarter:
            year, q = self.quarter
            self.quarter = (year + q // 4, q % 4 + 1)
            with self.store.read() as conn:
                entries = chains.count_entries(conn)
            start = date(self.quarter[0], 3 * self.quarter[1] - 2, 1)
            self.progress(
                f"{start:%Y-%m-%d}  quarter {self.quarter[0]}-Q{self.quarter[1]} begins:"
                f" {entries} history entries, {self.fired['reminder']} reminders and"
                f" {self.fired['escalation']} escalations so far"
            )
        self.now = now

    def _tick(self, now: datetime, *, digest: bool) -> None:
        self._reach(now)
        done = tick(self.runtime, self.hooks, now, digest=digest)
        counts = done.sweep.counts()
        self.fired["reminder"] += counts["reminder"]
        self.fired["escalation"] += counts["escalation"]

    def run_until(self, until: datetime) -> None:
        """Let the scheduler do everything that falls due before ``until``."""
        while True:
            rung = self._next_rung()
            moment = min(m for m in (rung, self.next_digest) if m is not None)
            if moment > until:
                break
            is_digest = moment >= self.next_digest
            if is_digest:
                self.next_digest = _next_monday_seven(self.next_digest + timedelta(minutes=1))
            self._tick(moment, digest=is_digest)
        self._reach(until)

    def run(self) -> None:
        """Play every scripted step in time order, the scheduler in between."""
        while self.queue:
            event = heapq.heappop(self.queue)
            self.run_until(event.when)
            self._reach(event.when)
            event.action(event.when)
            self.deliver()
        self.run_until(END.astimezone(UTC))

    def deliver(self) -> None:
        """Deliver what is due at the clock's ``now`` (as after every scripted step)."""
        if self.hooks.deliver_outbox is not None:
            self.hooks.deliver_outbox()

    def finish(self) -> None:
        """Wait for the mails of the run; their text into the outbox rows, their files onto
        the disk (one sync)."""
        if self.mail is not None:
            self.mail.finish()
            os.sync()

    def close(self) -> None:
        """End the mail's second process, finished or not (after :meth:`finish` failed)."""
        if self.mail is not None:
            self.mail.close()


def _quarter(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(BERLIN)
    return local.year, (local.month - 1) // 3 + 1


def _next_monday_seven(after: datetime) -> datetime:
    local = after.astimezone(BERLIN)
    monday = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    moment = datetime(monday.year, monday.month, monday.day, 7, 0, tzinfo=BERLIN)
    if moment.astimezone(UTC) < after:
        moment = moment + timedelta(days=7)
        moment = datetime(moment.year, moment.month, moment.day, 7, 0, tzinfo=BERLIN)
    return moment.astimezone(UTC)


def on(day: date, rng: random.Random) -> datetime:
    """A moment during office hours on ``day`` (Berlin)."""
    return at(day.year, day.month, day.day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))


def between(start: date, end: date, rng: random.Random) -> datetime:
    """An office-hours moment on a working day between ``start`` and ``end``."""
    days = [start + timedelta(n) for n in range((end - start).days + 1)]
    weekdays = [d for d in days if d.weekday() < 5] or days
    return on(rng.choice(weekdays), rng)
