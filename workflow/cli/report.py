"""``ruhrflow report status|lead-times|overdue``: the public progress reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import Field, emit_json, emit_listing, listing_options, machine_value

LEAD_TIME_FIELDS = [
    Field("level", "LEVEL"),
    Field("name", "NAME"),
    Field("label", "LABEL", table=False),
    Field("n", "N", "int"),
    Field("median_days", "MEDIAN DAYS", "number"),
    Field("p90_days", "P90 DAYS", "number"),
]
OVERDUE_FIELDS = [
    Field("ministry", "MINISTRY"),
    Field("key", "KEY"),
    Field("kind", "DEADLINE"),
    Field("state", "STATE"),
    Field("due_at", "DUE", "time"),
    Field("days_overdue", "DAYS OVER", "number"),
    Field("title", "TITLE"),
]


@click.group(cls=HelpGroup)
def report() -> None:
    """The public progress reports: status, lead times, overdue deadlines."""


@report.command("status")
@listing_options
@click.pass_context
def status(ctx: click.Context, fmt: str, output: Path | None, excel: bool) -> None:
    """Proposals per state and Handlungsfeld, grouped as the public reports do.

    in Prüfung (up to the cabinet decision), in Umsetzung (decided: approved, budget,
    funded, implementation), abgeschlossen, nicht weiterverfolgt.
    """
    from workflow.audit.reports import newest_definition, status_report

    with obj(ctx).runtime.store.read() as conn:
        definition = newest_definition(conn)
        rows = status_report(conn, definition)
    fields = [
        Field("group", "GROUP"),
        Field("state", "STATE"),
        Field("label", "LABEL", table=False),
    ]
    fields += [Field(f"hf{hf}", f"HF{hf}", "int") for hf in sorted(definition.handlungsfelder)]
    fields += [Field("total", "TOTAL", "int")]
    emit_listing(rows, fields, fmt, output=output, excel=excel)


@report.command("lead-times")
@listing_options
@click.pass_context
def lead_times(ctx: click.Context, fmt: str, output: Path | None, excel: bool) -> None:
    """Median and 90th percentile of days spent in each phase and state (finished stays)."""
    from workflow.audit.reports import lead_times as compute
    from workflow.audit.reports import newest_definition

    with obj(ctx).runtime.store.read() as conn:
        rows = compute(conn, newest_definition(conn))
    emit_listing(rows, LEAD_TIME_FIELDS, fmt, output=output, excel=excel)


@report.command("overdue")
@listing_options
@click.pass_context
def overdue(ctx: click.Context, fmt: str, output: Path | None, excel: bool) -> None:
    """Open deadlines past due now (or at --now), by lead ministry.

    JSON keeps the grouping by ministry; CSV is one row per deadline with its ministry.
    """
    from workflow.audit.reports import overdue as compute

    c = obj(ctx)
    with c.runtime.store.read() as conn:
        groups = compute(conn, c.now, c.runtime.directory)
    if fmt == "json":
        machine = [f for f in OVERDUE_FIELDS if f.key != "ministry"]
        emit_json(
            [
                {
                    **g,
                    "deadlines": [
                        {f.key: machine_value(d.get(f.key), f.kind) for f in machine}
                        for d in g["deadlines"]
                    ],
                }
                for g in groups
            ]
        )
        return
    flat: list[dict[str, Any]] = [
        {**d, "ministry": g["ministry"]} for g in groups for d in g["deadlines"]
    ]
    if fmt == "csv" or output is not None:
        emit_listing(flat, OVERDUE_FIELDS, fmt, output=output, excel=excel)
        return
    if not groups:
        click.echo("no open deadline is past due")
        return
    for g in groups:
        click.echo(f"{g['ministry']}  {g['name']}: {g['overdue']} overdue")
        rows = [d for d in flat if d["ministry"] == g["ministry"]]
        emit_listing(rows, OVERDUE_FIELDS[1:], "table")
        click.echo("")
