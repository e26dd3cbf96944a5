"""``ruhrflow report status|lead-times|overdue``: the public progress reports."""

from __future__ import annotations

from typing import Any

import click

from workflow.cli.context import obj
from workflow.cli.output import emit_json, emit_rows, emit_table, format_option, local_time

LEAD_TIME_COLUMNS = [
    ("level", "LEVEL"),
    ("name", "NAME"),
    ("n", "N"),
    ("median_days", "MEDIAN DAYS"),
    ("p90_days", "P90 DAYS"),
]
OVERDUE_COLUMNS = [
    ("ministry", "MINISTRY"),
    ("key", "KEY"),
    ("kind", "DEADLINE"),
    ("state", "STATE"),
    ("due", "DUE"),
    ("days_overdue", "DAYS OVER"),
    ("title", "TITLE"),
]


@click.group()
def report() -> None:
    """The public progress reports: status, lead times, overdue deadlines."""


@report.command("status")
@format_option("table", "json", "csv")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Proposals per state and Handlungsfeld, grouped as the public reports do.

    in Prüfung (up to the cabinet decision), in Umsetzung (decided: approved, budget,
    funded, implementation), abgeschlossen, nicht weiterverfolgt.
    """
    from workflow.audit.reports import newest_definition, status_report

    with obj(ctx).runtime.store.read() as conn:
        definition = newest_definition(conn)
        rows = status_report(conn, definition)
    columns = [("group", "GROUP"), ("state", "STATE")]
    columns += [(f"hf{hf}", f"HF{hf}") for hf in sorted(definition.handlungsfelder)]
    columns += [("total", "TOTAL")]
    if fmt == "csv":
        columns.insert(2, ("label", "LABEL"))
    emit_rows(rows, columns, fmt)


@report.command("lead-times")
@format_option("table", "json", "csv")
@click.pass_context
def lead_times(ctx: click.Context, fmt: str) -> None:
    """Median and 90th percentile of days spent in each phase and state (finished stays)."""
    from workflow.audit.reports import lead_times as compute
    from workflow.audit.reports import newest_definition

    with obj(ctx).runtime.store.read() as conn:
        rows = compute(conn, newest_definition(conn))
    emit_rows(rows, LEAD_TIME_COLUMNS, fmt)


@report.command("overdue")
@format_option("table", "json", "csv")
@click.pass_context
def overdue(ctx: click.Context, fmt: str) -> None:
    """Open deadlines past due now (or at --now), by lead ministry."""
    from workflow.audit.reports import overdue as compute

    c = obj(ctx)
    with c.runtime.store.read() as conn:
        groups = compute(conn, c.now, c.runtime.directory)
    if fmt == "json":
        emit_json(groups)
        return
    flat: list[dict[str, Any]] = [
        {**d, "ministry": g["ministry"], "due": local_time(d["due_at"])}
        for g in groups
        for d in g["deadlines"]
    ]
    if fmt == "csv":
        emit_rows(flat, OVERDUE_COLUMNS, "csv")
        return
    if not groups:
        click.echo("no open deadline is past due")
        return
    for g in groups:
        click.echo(f"{g['ministry']}  {g['name']}: {g['overdue']} overdue")
        emit_table([d for d in flat if d["ministry"] == g["ministry"]], OVERDUE_COLUMNS[1:])
        click.echo("")
