"""``ruhrflow proposal add|import|list|show``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.app.listing import PROPOSAL_FIELDS
from workflow.app.reads import show_detail  # noqa: F401  (tests import it from here)
from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import (
    emit_json,
    emit_listing,
    format_option,
    german_amount,
    listing_options,
    local_time,
    shown,
)
from workflow.cli.params import DigitRange
from workflow.cli.progress import Progress, progress_option

LIST_FIELDS = PROPOSAL_FIELDS  # the web's list download writes the same fields


@click.group(cls=HelpGroup)
def proposal() -> None:
    """Add, import, list and show proposals."""


@proposal.command("add")
@click.option("--title", required=True, help="German title of the proposal.")
@click.option("--handlungsfeld", type=DigitRange(1, 5), required=True, help="1 to 5.")
@click.option("--forum", "themenforum", type=DigitRange(1, 99), required=True,
              help="Number of the Themenforum.")  # fmt: skip
@click.option("--lead", required=True, metavar="CODE", help="Federführendes Ressort (e.g. IM).")
@click.option("--key", metavar="KEY", help="Key such as RK-03-01 (default: next free in forum).")
@click.option("--cost", metavar="EUR", help="Cost estimate in euros.")
@click.option("--participating", metavar="CODE,…", default="", help="Participating ministries.")
@click.option("--summary", default="", help="Short description.")
@click.pass_context
def add(
    ctx: click.Context,
    title: str,
    handlungsfeld: int,
    themenforum: int,
    lead: str,
    key: str | None,
    cost: str | None,
    participating: str,
    summary: str,
) -> None:
    """Add one proposal in the initial state."""
    added = obj(ctx).backend.add_proposal(
        title=title,
        handlungsfeld=handlungsfeld,
        themenforum=themenforum,
        lead=lead,
        key=key,
        cost=cost,
        participating=[p.strip() for p in participating.split(",") if p.strip()],
        summary=summary,
    )
    click.echo(f"added {added['key']}")


# A million proposals are some hundred megabytes of CSV.
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def run_import(ctx: click.Context, path: Path, *, skip_invalid: bool, quiet: bool = False) -> None:
    """Import a CSV file; shared by ``proposal import`` and ``init --import``."""
    from workflow.inputs import read_file_bytes

    backend = obj(ctx).backend
    data = read_file_bytes(path, MAX_IMPORT_BYTES, "CSV file")  # not /dev/zero, not a FIFO
    try:
        with Progress("import", unit="rows", quiet=quiet) as progress:
            done = backend.import_proposals(
                data, skip_invalid=skip_invalid, progress=progress.callback
            )
    except Exception as exc:
        problems = getattr(exc, "problems", None)
        if problems:
            for line, reason in problems:
                click.echo(f"{path}:{line}: {reason}", err=True)
        raise
    created, bad = done["imported"], done["skipped"]
    for b in bad:
        click.echo(f"{path}:{b['line']}: skipped: {b['reason']}", err=True)
    click.echo(f"imported {len(created)} proposals" + (f", skipped {len(bad)}" if bad else ""))


@proposal.command("edit")
@click.argument("key")
@click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
              help="title, summary, cost_estimate (euros; empty: none), participating"
              " (CODE,CODE; empty: none), handlungsfeld. Repeat for several.")  # fmt: skip
@click.option("--comment", help="Why (kept in the history entry).")
@format_option("text", "json")
@click.pass_context
def edit(
    ctx: click.Context, key: str, assignments: tuple[str, ...], comment: str | None, fmt: str
) -> None:
    """Correct fields of proposal KEY; the history keeps each old and new value."""
    from workflow.engine.edits import parse_assignments

    c = obj(ctx)
    actor = c.require_actor()
    done = c.runtime.engine.edit_proposal(
        key, parse_assignments(assignments), actor=actor, now=c.now, comment=comment
    )
    if fmt == "json":
        emit_json({"key": key, "seq": done.applied.seq, "changes": done.changes})
        return
    for name, change in done.changes.items():
        click.echo(f"{key}: {name}: {change['old']!r} → {change['new']!r}")
    click.echo(f"{key}: edit recorded as #{done.applied.seq}")


@proposal.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows, report the bad ones.")
@progress_option
@click.pass_context
def import_(ctx: click.Context, file: Path, skip_invalid: bool, quiet: bool) -> None:
    """Import proposals from a UTF-8 CSV (all or nothing unless --skip-invalid).

    Columns: key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary
    (participating separated by ';'; an optional source column is kept).
    """
    run_import(ctx, file, skip_invalid=skip_invalid, quiet=quiet)


@proposal.command("list")
@click.option("--state", help="Only proposals in this state.")
@click.option("--handlungsfeld", type=DigitRange(1, 5), help="Only this Handlungsfeld.")
@click.option("--lead", metavar="CODE", help="Only proposals of this lead ministry.")
@click.option("--definition-version", type=click.IntRange(min=1), metavar="N",
              help="Only proposals on definition version N.")  # fmt: skip
@listing_options
@click.pass_context
def list_(
    ctx: click.Context,
    state: str | None,
    handlungsfeld: int | None,
    lead: str | None,
    definition_version: int | None,
    fmt: str,
    output: Path | None,
    excel: bool,
) -> None:
    """List proposals."""
    rows = obj(ctx).backend.proposals(
        state=state,
        handlungsfeld=handlungsfeld,
        lead=lead,
        definition_version=definition_version,
    )
    emit_listing(rows, LIST_FIELDS, fmt, output=output, excel=excel)


@proposal.command("show")
@click.argument("key")
@format_option("text", "json")
@click.pass_context
def show(ctx: click.Context, key: str, fmt: str) -> None:
    """Show one proposal with its statements and funding."""
    detail = obj(ctx).backend.proposal(key)
    if fmt == "json":
        emit_json(detail)
        return
    _print_detail(detail)


def _print_detail(d: dict[str, Any]) -> None:
    click.echo(f"{d['key']}  {shown(d['title'])}")
    click.echo(f"  state          {d['state']} (since {local_time(d['state_entered_at'])})")
    click.echo(f"  Handlungsfeld  {d['handlungsfeld']}   Themenforum {d['themenforum']:02d}")
    participating = ", ".join(d["participating"]) or "—"
    click.echo(f"  lead           {d['lead']}   participating {participating}")
    cost = "—" if d["cost_estimate"] is None else german_amount(d["cost_estimate"])
    click.echo(f"  cost estimate  {cost}   secured {german_amount(d['funding_secured'])}")
    click.echo(f"  version        {d['version']}")
    click.echo(f"  definition     version {d['definition_version']} ({d['definition_hash']})")
    if d["summary"]:
        lines = [shown(line) for line in d["summary"].split("\n")]
        click.echo("  summary        " + "\n                 ".join(lines))
    for name, value in sorted(d["data"].items()):
        click.echo(f"  {shown(name):<14} {shown(value)}")
    if d["statements"]:
        click.echo("  statements")
        for s in d["statements"]:
            click.echo(f"    {s['group']:<9} {s['position']:<9} {shown(s['party'])}")
    if d["funding"]:
        click.echo("  funding")
        for f in d["funding"]:
            amount = german_amount(f["amount"])
            click.echo(f"    {f['year']} {f['source']:<9} {amount:>18}  {f['status']}")
