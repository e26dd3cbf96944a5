"""``ruhrflow notices list|send|retry|preview``: the outbox from the command line.

Exit codes: ``send`` exits 3 when the transport was unreachable (the notices stay pending and
are retried later), else 1 when a notice failed for good in this run (550, 535, or its last
attempt); a server's temporary refusal (4xx, greylisting) is retried and exits 0. ``retry``
exits 2 for an id that does not exist and 1 when a named notice is not ``failed`` (nothing is
changed then).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.cli.backup import prune
from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import Field, emit_json, emit_listing, format_option, listing_options
from workflow.cli.params import DigitRange

EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 3

NOTICE_FIELDS = [
    Field("id", "ID", "int"),
    Field("status", "STATUS"),
    Field("kind", "KIND"),
    Field("key", "PROPOSAL"),
    Field("to", "TO", "list"),
    Field("attempts", "TRIES", "int"),
    Field("next_attempt_at", "NEXT", "time"),
    Field("sent_at", "SENT", "time"),
    Field("subject", "SUBJECT"),
    Field("last_error", "ERROR"),
    Field("idempotency_key", "IDEMPOTENCY KEY", table=False),
    Field("message_id", "MESSAGE-ID", table=False),
    Field("lease_until", "LEASE UNTIL", "time", table=False),
    Field("created_at", "CREATED", "time", table=False),
]


@click.group(cls=HelpGroup)
def notices() -> None:
    """The outbox of email notices: list, send, retry, preview."""


@notices.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed"]),
    help="Only notices in this status.",
)
@click.option("--limit", type=DigitRange(min=1), default=None, help="At most this many.")
@listing_options
@click.pass_context
def list_(
    ctx: click.Context,
    status: str | None,
    limit: int | None,
    fmt: str,
    output: Path | None,
    excel: bool,
) -> None:
    """Notices, newest first (failed ones with their last error)."""
    rows = obj(ctx).backend.notices(status=status, limit=limit)
    if fmt == "table":
        for r in rows:  # a pending notice's next attempt; the others have none that matters
            if r["status"] != "pending":
                r["next_attempt_at"] = None
    empty = "no notices" + (f" with status {status}" if status else "")
    emit_listing(rows, NOTICE_FIELDS, fmt, output=output, excel=excel, empty=empty)


@notices.command("send")
@click.option("--limit", type=DigitRange(min=1), default=None, help="At most this many.")
@format_option("text", "json")
@click.pass_context
def send(ctx: click.Context, limit: int | None, fmt: str) -> None:
    """Deliver the notices due now; print what was sent, retried and failed.

    One line per notice not delivered: "error: …" on stderr for one that failed for good,
    "retry: …" for one refused for now (4xx, greylisting). Exits 3 when the transport was
    unreachable, else 1 when a notice failed for good (550, 535), else 0.
    """
    from workflow.notices.delivery import deliver
    from workflow.notices.outbox import count_by_status

    c = obj(ctx)
    c.require_system("deliver notices")
    runtime = c.runtime
    counts = deliver(runtime.delivery(), runtime.transport, c.now, limit=limit)
    with runtime.store.read() as conn:
        left = count_by_status(conn)
    if fmt == "json":
        emit_json({**counts.as_dict(), "outbox": left})
    else:
        click.echo(
            f"sent {counts.sent}, to retry {counts.retried}, failed {counts.failed};"
            f" outbox: {left['pending']} pending, {left['failed']} failed"
        )
    for problem in counts.problems:
        what = f"notice {problem.notice_id} ({problem.idempotency_key})"
        if problem.status == "failed":
            click.echo(f"error: {what} failed: {problem.error}", err=True)
        elif not problem.unreachable and fmt != "json":
            click.echo(f"retry: {what} refused for now: {problem.error}")
    if counts.unreachable:
        reason = next(p.error for p in counts.problems if p.unreachable)
        click.echo(
            f"error: the mail transport is unreachable; the notices stay pending: {reason}",
            err=True,
        )
        ctx.exit(EXIT_UNAVAILABLE)
    if counts.failed:
        ctx.exit(EXIT_REFUSED)


@notices.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="ID…")
@click.option("--all-failed", is_flag=True, help="Every failed notice.")
@click.pass_context
def retry(ctx: click.Context, ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed notices back to pending (attempts reset, due now)."""
    from workflow.errors import InvalidInput, WorkflowError
    from workflow.notices import outbox

    if bool(ids) == all_failed:
        raise click.UsageError("give notice IDs or --all-failed (not both)")
    c = obj(ctx)
    c.require_clock()
    with c.runtime.store.write() as conn:
        if ids:
            found = outbox.statuses_of(conn, ids)
            unknown = sorted(set(ids) - set(found))
            if unknown:
                raise InvalidInput(f"no notice with id {', '.join(map(str, unknown))}")
            not_failed = {i: s for i, s in found.items() if s != outbox.FAILED}
            if not_failed:
                listed = ", ".join(f"{i} is {s}" for i, s in sorted(not_failed.items()))
                raise WorkflowError(f"only failed notices can be retried: {listed}")
        chosen = outbox.retry(conn, c.now, ids=ids, all_failed=all_failed)
    click.echo(f"{len(chosen)} notice(s) back to pending" + (f": {_ids(chosen)}" if chosen else ""))


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids)) if len(ids) <= 20 else f"{ids[0]} … {ids[-1]}"


@notices.command("preview")
@click.argument("key")
@click.argument("event")
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text.")
@format_option("text", "json")
@click.pass_context
def preview(ctx: click.Context, key: str, event: str, html: bool, fmt: str) -> None:
    """Render the notice EVENT would cause for KEY now, without storing or sending it.

    EVENT is a trigger of the definition (its status change), or reminder, escalation or
    consultation_opened (for a deadline of the proposal's current state).
    """
    from workflow.notices.preview import render_preview

    c = obj(ctx)
    rt = c.runtime
    result = render_preview(
        rt.store,
        rt.machines,
        rt.notifier,
        rt.renderer,  # delivery's: the preview is the mail it would send
        key,
        event,
        c.now,
        process_setting=rt.settings.section("process"),
        actor=c.resolve_actor() or "koordination",
    )
    if fmt == "json":
        emit_json(result)
        return
    if result["hypothetical"]:
        click.echo(f"Hypothetical: {result['hypothetical']}")
    click.echo(f"Kind: {result['kind']}")
    click.echo(f"To: {', '.join(_recipient(r) for r in result['recipients']) or '(none)'}")
    if result["calendar"]:
        click.echo(f"Calendar: {result['calendar']}")
    click.echo(f"Subject: {result['subject']}")
    click.echo("")
    click.echo(result["html"] if html else result["text"], nl=False)


def _recipient(r: dict[str, Any]) -> str:
    return f"{r['name']} <{r['address']}>"


notices.add_command(prune)
