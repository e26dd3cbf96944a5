"""``ruhrflow scheduler tick|run``, ``ruhrflow deadlines`` and ``ruhrflow simulate``.

Only this edge reads the wall clock (through ``CliContext.now``, which honours ``--now``);
the sweep itself takes ``now``. Heavy imports (SQLAlchemy, APScheduler) happen inside
the commands.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from workflow.app.tick import scheduler_hooks, scheduler_settings, sweep_due
from workflow.cli.context import obj, parse_day
from workflow.cli.groups import HelpGroup
from workflow.cli.output import (
    Field,
    emit_json,
    emit_listing,
    format_option,
    listing_options,
    local_time,
)
from workflow.cli.progress import Progress, progress_option
from workflow.process.vocabulary import BERLIN

DEADLINE_FIELDS = [
    Field("key", "PROPOSAL"),
    Field("lead", "LEAD"),
    Field("state", "STATE", table=False),
    Field("deadline", "DEADLINE"),
    Field("due_at", "DUE", "time"),
    Field("overdue", "OVERDUE", "flag"),
    Field("next_rung", "NEXT"),
    Field("next_at", "AT", "time"),
    Field("period", "PERIOD", "int", table=False),
    Field("label", "LABEL"),
]
SIMULATE_FIELDS = [
    Field("day", "DAY", "date"),
    Field("time", "TIME"),
    Field("key", "PROPOSAL"),
    Field("lead", "LEAD", table=False),
    Field("state", "STATE", table=False),
    Field("deadline", "DEADLINE"),
    Field("label", "LABEL", table=False),
    Field("rung", "RUNG"),
    Field("kind", "KIND"),
    Field("recipients", "TO", "list"),
    Field("late", "LATE", "flag"),
    Field("skipped", "NO NOTICE"),  # why the sweep would record it without a notice
    Field("due_at", "DUE", "time", table=False),
    Field("fire_at", "FIRES", "time", table=False),
    Field("idempotency_key", "IDEMPOTENCY KEY", table=False),
    Field("rung_id", "RUNG ID", "int", table=False),
    Field("deadline_id", "DEADLINE ID", "int", table=False),
    Field("proposal_id", "PROPOSAL ID", "int", table=False),
]


@click.group(cls=HelpGroup)
def scheduler() -> None:
    """Run the deadline sweep once (tick) or as a daemon (run)."""


@scheduler.command("tick")
@format_option("text", "json")
@progress_option
@click.pass_context
def tick(ctx: click.Context, fmt: str, quiet: bool) -> None:
    """Fire every due reminder and escalation once (for cron, tests and simulation)."""
    from workflow.app.tick import tick as run_tick

    c = obj(ctx)
    c.require_system("run the scheduler")
    runtime = c.runtime
    hooks = scheduler_hooks(runtime, clock=lambda: c.now)
    with Progress("tick", unit="rungs fired", quiet=quiet) as progress:
        done = run_tick(runtime, hooks, c.now, progress=progress.callback)
    result, digest, delivery = done.sweep, done.digest, done.delivery
    if fmt == "json":
        emit_json(
            {
                **result.as_dict(),
                "digest": digest.as_dict() if digest is not None else None,
                "delivery": delivery.as_dict() if delivery is not None else None,
            }
        )
        return
    counts = result.counts()
    click.echo(
        f"tick at {local_time(result.now)}: {counts['reminder']} reminder(s),"
        f" {counts['escalation']} escalation(s), {counts['late']} late,"
        f" {counts['skipped']} skipped"
    )
    # Each rung with its own time (when it was meant to go out), then the deadline's.
    for r in sorted([*result.fired, *result.skipped], key=lambda r: (r.key, r.fire_at)):
        late = "  late" if r.late else ""
        outcome = f"  skipped: {r.skipped}" if r.skipped is not None else late
        click.echo(
            f"  {r.key}  {r.deadline}.{r.rung}  at {local_time(r.fire_at)}"
            f"  due {local_time(r.due_at)}{outcome}"
        )
    if digest is not None and digest.enqueued:
        click.echo(f"digest {digest.week}: {len(digest.enqueued)} notice(s)")
    if delivery is not None and delivery.claimed:
        click.echo(
            f"notices: {delivery.sent} sent, {delivery.retried} to retry, {delivery.failed} failed"
        )


@scheduler.command("run")
@click.option(
    "--interval-seconds",
    type=click.FloatRange(min=0.2),
    default=None,
    help="Seconds between sweeps (default: scheduler.sweep_interval_seconds, 60).",
)
@click.pass_context
def run(ctx: click.Context, interval_seconds: float | None) -> None:
    """Run the sweeps until SIGINT/SIGTERM (APScheduler, Europe/Berlin).

    With the global --now, the daemon's clock starts at that time and runs on from there.
    """
    import time as _time

    from workflow.app.health import MonitoringSettings
    from workflow.app.logs import LogSettings, configure_logging
    from workflow.app.waiting import wait_for_the_database_of
    from workflow.errors import InvalidConfig
    from workflow.scheduler.daemon import (
        DaemonOptions,
        JobMonitor,
        build_scheduler,
        run_until_signalled,
    )

    c = obj(ctx)
    settings = c.settings
    configure_logging(LogSettings.from_section(settings.section("logging")))
    monitoring = MonitoringSettings.from_section(settings.section("monitoring"))
    wait_for_the_database_of(settings)
    c.require_system("run the scheduler")
    runtime = c.runtime
    _, batch = scheduler_settings(runtime)
    try:
        options = DaemonOptions.from_settings(
            runtime.settings.section("scheduler"), runtime.settings.timezone
        )
    except ValueError as exc:
        raise InvalidConfig(str(exc)) from None
    if interval_seconds is not None:
        options = DaemonOptions(**{**options.__dict__, "interval_seconds": interval_seconds})
    fixed, started = c.fixed_now, _time.monotonic()

    def clock() -> datetime:
        if fixed is None:
            return datetime.now(UTC)
        return fixed + timedelta(seconds=_time.monotonic() - started)

    hooks = scheduler_hooks(runtime, clock, delivery_batch=batch)
    log = logging.getLogger("ruhrflow.scheduler")

    def sweep_job() -> None:
        now = clock()
        result = sweep_due(runtime, hooks, now)
        counts = " ".join(f"{k}={v}" for k, v in result.counts().items())
        log.info("sweep at %s: %s", now.isoformat(timespec="seconds"), counts)

    monitor = JobMonitor(monitoring.scheduler_state_file)
    sched = build_scheduler(
        monitor.wrap("sweep", sweep_job),
        options,
        outbox_job=monitor.wrap("delivery", hooks.deliver_outbox) if hooks.deliver_outbox else None,
        digest_job=monitor.wrap("digest", hooks.weekly_digest) if hooks.weekly_digest else None,
        first_run=datetime.now(UTC),
    )
    run_until_signalled(sched)


@click.group("deadlines", invoke_without_command=True)
@click.option("--overdue", is_flag=True, help="Only deadlines already due.")
@click.option("--due-within", metavar="DURATION", help="Due from now to then: 14d, 10wd, 2w, 1mo.")
@click.option("--lead", metavar="CODE", help="Only proposals of this lead ministry.")
@listing_options
@click.pass_context
def deadlines(
    ctx: click.Context,
    overdue: bool,
    due_within: str | None,
    lead: str | None,
    fmt: str,
    output: Path | None,
    excel: bool,
) -> None:
    """Open deadlines of the proposals' current states, soonest first.

    `deadlines move` moves one of them (coordinators).
    """
    if ctx.invoked_subcommand is not None:
        return
    from workflow.process.calendar import parse_duration

    if due_within is not None:
        try:
            parse_duration(due_within)  # here, so that a typo is a usage error either way
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--due-within") from None
    rows = obj(ctx).backend.deadlines(overdue=overdue, due_within=due_within, lead=lead)
    emit_listing(rows, DEADLINE_FIELDS, fmt, output=output, excel=excel)


@deadlines.command("move")
@click.argument("key")
@click.argument("deadline")
@click.option("--to", "to_text", required=True, metavar="DATE", help="The new day (YYYY-MM-DD).")
@click.option("--reason", required=True, help="Why the deadline moves (told to the ministries).")
@format_option("text", "json")
@click.pass_context
def move(ctx: click.Context, key: str, deadline: str, to_text: str, reason: str, fmt: str) -> None:
    """Move the open DEADLINE of KEY to another day (coordinators only).

    The due time keeps the rule's local time; pending reminders and escalations are planned
    anew; the history records the move with the reason; the ministries get a notice whose
    calendar entry replaces the old one (same UID, SEQUENCE one higher).
    """
    to_day = parse_day(to_text)
    moved = obj(ctx).backend.move_deadline(key, deadline, to_day, reason)
    if fmt == "json":
        emit_json(moved)
        return
    click.echo(
        f"{moved['key']}: {moved['deadline']} moved from {local_time(moved['from'])}"
        f" to {local_time(moved['to'])} (calendar sequence {moved['sequence']})"
    )
    for rung in moved["rungs"]:
        click.echo(f"  {rung['rung']}  at {local_time(rung['at'])}")


@click.command("simulate")
@click.option("--until", "until_text", required=True, metavar="DATE", help="Last day (YYYY-MM-DD).")
@listing_options
@click.pass_context
def simulate(
    ctx: click.Context, until_text: str, fmt: str, output: Path | None, excel: bool
) -> None:
    """Which reminders and escalations would fire from now until DATE, per day.

    Reads only: nothing is written. Transitions in between are not foreseen.
    """
    from workflow.deadlines.sweep import simulate as simulate_rungs
    from workflow.errors import InvalidInput
    from workflow.process.calendar import end_of_local_day

    c = obj(ctx)
    now = c.now
    until = end_of_local_day(parse_day(until_text))
    if until <= now:
        raise InvalidInput(f"--until {until_text} is not after now ({local_time(now)})")
    late_after, _ = scheduler_settings(c.runtime)
    runtime = c.runtime
    planned = simulate_rungs(runtime.store, runtime.machines, now, until, late_after=late_after)
    rows = []
    for info in planned:
        fires = max(now, info.fire_at).astimezone(BERLIN)
        rows.append(
            {"day": fires.date().isoformat(), "time": fires.strftime("%H:%M"), **info.as_dict()}
        )
    empty = f"nothing would fire until {until_text}"
    emit_listing(rows, SIMULATE_FIELDS, fmt, output=output, excel=excel, empty=empty)
