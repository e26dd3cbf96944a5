"""How the scheduler's work fits together: the sweep, the outbox notices per rung, the
weekly digest and delivery — one ``tick`` used by ``scheduler tick``, ``scheduler run``
and the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from workflow.deadlines.sweep import sweep
from workflow.engine.effects import rung_hook
from workflow.notices.delivery import deliver
from workflow.notices.digest import digest_due, make_digests
from workflow.process.calendar import parse_local_time

if TYPE_CHECKING:
    from workflow.app.runtime import Runtime
    from workflow.deadlines.sweep import OnRung, SweepResult
    from workflow.progress import ProgressCallback


@dataclass(frozen=True)
class SchedulerHooks:
    """Where the notifications plug into the scheduler (None until they exist).

    * ``on_rung(conn, applied, rung_info, now)`` — called by the sweep for every fired
      rung, inside its transaction: write the outbox notice (idempotency key
      ``rung_info.idempotency_key``).
    * ``deliver_outbox()`` — the outbox delivery job of ``scheduler run`` (every minute).
    * ``weekly_digest()`` — the digest job of ``scheduler run`` (Monday 07:00).
    """

    on_rung: OnRung | None = None
    deliver_outbox: Callable[[], Any] | None = None
    weekly_digest: Callable[[], Any] | None = None


def scheduler_hooks(
    runtime: Runtime,
    clock: Callable[[], datetime],
    *,
    delivery_batch: int | None = None,
) -> SchedulerHooks:
    """The hooks for ``runtime``: every effect's ``on_rung`` per fired rung (the outbox
    notices), delivery, the weekly digest.

    ``clock`` gives the jobs' now (the CLI's: the wall clock, or ``--now`` in tick and run).
    ``delivery_batch`` bounds the notices one delivery run sends (the daemon's: its next
    run sends the rest, and SIGTERM never waits for a whole backlog); a tick sends all.
    Delivery uses the transport of ``settings.mail``; the digest is made once the week's
    digest moment (``scheduler.digest_day``/``digest_time``) has come, at most once a week.
    """

    now_of = clock
    notifier = runtime.notifier
    section = runtime.settings.section("scheduler")
    day = str(section.get("digest_day", "mon"))
    at = parse_local_time(str(section.get("digest_time", "07:00")))

    def deliver_outbox() -> Any:
        return deliver(runtime.delivery(), runtime.transport, now_of(), limit=delivery_batch)

    def weekly_digest() -> Any:
        now = now_of()
        if not digest_due(now, day, at):
            return None
        return make_digests(
            runtime.store, runtime.machines, notifier.directory, now, domain=notifier.domain
        )

    return SchedulerHooks(
        on_rung=rung_hook(runtime.effects),
        deliver_outbox=deliver_outbox,
        weekly_digest=weekly_digest,
    )


def scheduler_settings(runtime: Runtime) -> tuple[timedelta, int]:
    section = runtime.settings.section("scheduler")
    late_after = timedelta(seconds=float(section.get("late_after_seconds", 300)))
    return late_after, int(section.get("batch_size", 200))


def sweep_due(
    runtime: Runtime,
    hooks: SchedulerHooks,
    now: datetime,
    *,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """The sweep at ``now`` with ``runtime``'s definitions and ``[scheduler]`` settings: fire
    the due rungs (``hooks.on_rung`` writes their notices) — a tick's first part and the
    daemon's sweep job."""
    late_after, batch = scheduler_settings(runtime)
    return sweep(
        runtime.store,
        runtime.machines,
        runtime.engine.append_event,
        now,
        on_rung=hooks.on_rung,
        late_after=late_after,
        batch_size=batch,
        progress=progress,
    )


@dataclass(frozen=True)
class TickResult:
    """What one tick did: the sweep's rungs, the digest (if due) and the delivery."""

    sweep: SweepResult
    digest: Any
    delivery: Any


def tick(
    runtime: Runtime,
    hooks: SchedulerHooks,
    now: datetime,
    *,
    digest: bool = True,
    progress: ProgressCallback | None = None,
) -> TickResult:
    """One pass at ``now``: fire due rungs (with their notices), the digest if due, deliver.

    ``progress`` hears of the rungs fired so far, batch by batch.
    """

    result = sweep_due(runtime, hooks, now, progress=progress)
    made = hooks.weekly_digest() if digest and hooks.weekly_digest else None
    delivered = hooks.deliver_outbox() if hooks.deliver_outbox else None
    return TickResult(result, made, delivered)
