"""``ruhrflow report status|lead-times|overdue|stuck``: the public progress reports.

``--as-of DATE`` answers for the end of DATE (Europe/Berlin) from the history
(workflow/audit/asof.py) instead of for now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

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


F = TypeVar("F", bound=Callable[..., Any])


def as_of_option(func: F) -> F:
    """``--as-of DATE``: the Sachstand at the end of DATE instead of now."""
    return click.option(
        "--as-of",
        "as_of_text",
        metavar="DATE",
        default=None,
        help="Report as of the end of DATE (YYYY-MM-DD, Europe/Berlin), from the history.",
    )(func)


def _as_of(ctx: click.Context, text: str | None) -> tuple[date | None, datetime]:
    """The cut-off day (None: now) and the moment the report stands at."""
    from workflow.audit.asof import cutoff_of, parse_as_of

    c = obj(ctx)
    if text is None:
        return None, c.now
    day = parse_as_of(text, c.now)
    return day, min(cutoff_of(day), c.now)


@click.group()
def report() -> None:
    """The public progress reports: status, lead times, overdue deadlines; stuck proposals."""


@report.command("status")
@format_option("table", "json", "csv")
@as_of_option
@click.pass_context
def status(ctx: click.Context, fmt: str, as_of_text: str | None) -> None:
    """Proposals per state and Handlungsfeld, grouped as the public reports do.

    The four public groups count the projects the cabinet decided: in Prüfung (decided,
    not yet in implementation), in Umsetzung, abgeschlossen, nicht weiterverfolgt. The
    definition files each state under one (`public:`). Proposals before the decision
    (in Vorbereitung) and those closed without becoming a project (nicht gezählt) are
    listed apart.
    """
    from workflow.audit.asof import reconstruct
    from workflow.audit.reports import (
        GROUPS,
        group_totals,
        newest_definition,
        status_report,
    )

    day, moment = _as_of(ctx, as_of_text)
    with obj(ctx).runtime.store.read() as conn:
        definition = newest_definition(conn)
        states = None
        if day is not None:
            states = [(p.state, p.handlungsfeld) for p in reconstruct(conn, moment)]
        rows = status_report(conn, definition, states)
    if fmt == "json":
        totals = group_totals(rows)
        emit_json(
            {
                "as_of": day.isoformat() if day else moment.isoformat(),
                "groups": {g: totals[g] for g in GROUPS},
                "outside": {g: n for g, n in totals.items() if g not in GROUPS},
                "rows": rows,
            }
        )
        return
    if day is not None and fmt == "table":
        click.echo(f"Sachstand {day:%d.%m.%Y} (end of day, Europe/Berlin)")
    columns = [("group", "GROUP"), ("state", "STATE")]
    columns += [(f"hf{hf}", f"HF{hf}") for hf in sorted(definition.handlungsfelder)]
    columns += [("total", "TOTAL")]
    if fmt == "csv":
        columns.insert(2, ("label", "LABEL"))
    emit_rows(rows, columns, fmt)


@report.command("lead-times")
@format_option("table", "json", "csv")
@as_of_option
@click.pass_context
def lead_times(ctx: click.Context, fmt: str, as_of_text: str | None) -> None:
    """Median and 90th percentile of days spent in each phase and state (finished stays)."""
    from workflow.audit.reports import lead_times as compute
    from workflow.audit.reports import newest_definition

    day, moment = _as_of(ctx, as_of_text)
    with obj(ctx).runtime.store.read() as conn:
        rows = compute(conn, newest_definition(conn), moment if day else None)
    emit_rows(rows, LEAD_TIME_COLUMNS, fmt)


STUCK_COLUMNS = [
    ("key", "KEY"),
    ("definition_version", "VERSION"),
    ("state", "STATE"),
    ("since_local", "LAST TRANSITION"),
    ("reason", "REASON"),
    ("title", "TITLE"),
]


@report.command("stuck")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="No transition for this many days counts as stuck.")  # fmt: skip
@format_option("table", "json", "csv")
@click.pass_context
def stuck(ctx: click.Context, days: int, fmt: str) -> None:
    """Proposals that do not move: no transition for --days days, or a state that no
    transition leaves in their definition version (though it is not final)."""
    from workflow.audit.reports import stuck as compute

    c = obj(ctx)
    with c.runtime.store.read() as conn:
        rows = compute(conn, c.now, days)
    if fmt == "json":
        emit_json(rows)
        return
    for r in rows:
        r["since_local"] = local_time(r["since"])
    if fmt == "table" and not rows:
        click.echo(f"no proposal is stuck (no transition for {days} days, or a dead end)")
        return
    emit_rows(rows, STUCK_COLUMNS, fmt)


@report.command("overdue")
@format_option("table", "json", "csv")
@as_of_option
@click.pass_context
def overdue(ctx: click.Context, fmt: str, as_of_text: str | None) -> None:
    """Open deadlines past due now (or at --now, or at the end of --as-of), by lead ministry."""
    from workflow.audit.reports import overdue as compute

    c = obj(ctx)
    day, moment = _as_of(ctx, as_of_text)
    with c.runtime.store.read() as conn:
        groups = compute(conn, moment, c.runtime.directory, historical=day is not None)
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
