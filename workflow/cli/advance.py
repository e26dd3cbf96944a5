"""``ruhrflow advance``, ``ruhrflow triggers`` and ``ruhrflow history``."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.app.reads import history_rows  # noqa: F401  (tests import it from here)
from workflow.cli.context import obj
from workflow.cli.output import Field, emit_json, emit_listing, format_option, listing_options
from workflow.cli.progress import Progress, progress_option

# The same fields, in the same order, as ``audit log`` (machine formats).
HISTORY_FIELDS = [
    Field("key", "KEY", table=False),
    Field("seq", "#", "int"),
    Field("at", "AT (Berlin)", "time"),
    Field("actor", "ACTOR"),
    Field("kind", "KIND", table=False),
    Field("trigger", "TRIGGER"),
    Field("from_state", "FROM", table=False),
    Field("to_state", "TO", table=False),
    Field("change", "STATE", machine=False),
    Field("comment", "COMMENT"),
    Field("data", "DATA", "json", table=False),
    Field("hash", "HASH", table=False),
    # the database's own time of the insert (migration 0006; empty for older entries)
    Field("recorded_at", "RECORDED", "time", table=False),
]


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="[KEY…] TRIGGER")
@click.option("--where", "where", metavar="state=S", help="Every proposal in state S.")
@click.option("--comment", help="Why (kept in the history, shown in notices).")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="A field the trigger needs, e.g. decision_date=2019-11-05.")  # fmt: skip
@click.option(
    "--partial",
    is_flag=True,
    help="Apply what can be applied, list the rest (default: all or nothing).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check and show what would happen, then roll back: nothing is changed.",
)
@format_option("text", "json")
@progress_option
@click.pass_context
def advance(
    ctx: click.Context,
    args: tuple[str, ...],
    where: str | None,
    comment: str | None,
    assignments: tuple[str, ...],
    partial: bool,
    dry_run: bool,
    fmt: str,
    quiet: bool,
) -> None:
    """Fire TRIGGER on the proposals KEY… (or --where state=S), in one transaction.

    \b
    ruhrflow --as koordination advance RK-03-01 approve --set decision_date=2019-11-05
    ruhrflow --as koordination advance --where state=cabinet approve --set decision_date=2019-11-05
    """
    from workflow.process.fields import parse_assignments

    c = obj(ctx)
    *keys, trigger = args
    state = None
    if where is not None:
        name, sep, state = where.partition("=")
        if name.strip() != "state" or not sep or not state.strip():
            raise click.BadParameter("expected state=S", param_hint="--where")
        if keys:
            raise click.UsageError("give either KEY… or --where, not both")
        state = state.strip()
    elif not keys:
        raise click.UsageError("name at least one KEY before the TRIGGER, or use --where")
    backend = c.backend
    fields = parse_assignments(assignments)
    with Progress(f"advance {trigger}", unit="proposals", quiet=quiet or len(keys) == 1) as bar:
        result = backend.advance(
            trigger,
            keys=keys,
            where_state=state,
            comment=comment,
            fields=fields,
            partial=partial,
            dry_run=dry_run,
            progress=bar.callback,
        )
    applied, refused = result["applied"], result["refused"]
    if fmt == "json":
        emit_json(result)
    else:
        for a in applied if len(applied) <= 20 else applied[:10]:
            click.echo(
                f"{a['key']}: {a['from_state']} → {a['to_state']} ({a['trigger']}, #{a['seq']})"
            )
        if len(applied) > 20:
            click.echo(f"… and {len(applied) - 10} more")
        if len(applied) > 1 or refused:
            click.echo(f"applied {len(applied)}, refused {len(refused)}")
        for r in refused:
            click.echo(f"refused {r['key']}: {r['reason']}", err=True)
        if dry_run:
            click.echo("dry run: nothing was changed")
    if refused:
        ctx.exit(1)


@click.command()
@click.argument("key")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="Check as if these fields were given.")  # fmt: skip
@click.option("--comment", help="Check as if this comment were given.")
@format_option("text", "json")
@click.pass_context
def triggers(
    ctx: click.Context, key: str, assignments: tuple[str, ...], comment: str | None, fmt: str
) -> None:
    """Every trigger leaving KEY's state: can it fire now (for --as), and what blocks it."""
    from workflow.process.fields import parse_assignments

    options = obj(ctx).backend.triggers(key, parse_assignments(assignments), comment)
    if fmt == "json":
        emit_json(options)
        return
    if not options:
        click.echo(f"{key}: final state, no trigger leaves it")
    for o in options:
        mark = "yes" if o["can_fire"] else "no "
        click.echo(f"{mark}  {o['trigger']:<20} → {o['target']:<16} {o['label']}")
        for reason in o["blocked_by"]:
            click.echo(f"       blocked: {reason}")


@click.command()
@click.argument("key")
@listing_options
@click.pass_context
def history(ctx: click.Context, key: str, fmt: str, output: Path | None, excel: bool) -> None:
    """The history of proposal KEY, oldest first."""
    entries = obj(ctx).backend.history(key)
    for e in entries:
        same = e["from_state"] == e["to_state"]
        e["change"] = (
            e["to_state"]
            if same or e["from_state"] is None
            else (f"{e['from_state']} → {e['to_state']}")
        )
    emit_listing(entries, HISTORY_FIELDS, fmt, output=output, excel=excel)
