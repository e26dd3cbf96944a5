"""``ruhrflow report status|lead-times|overdue|stuck``: the public progress reports.

``--as-of DATE`` answers for the end of DATE (Europe/Berlin) from the history
(workflow/audit/asof.py) instead of for now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from workflow.app.machine import machine_value
from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import Field, emit_json, emit_listing, listing_options

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


def _is_hf(name: str) -> bool:
    return name.startswith("hf") and name[2:].isdigit()


@click.group(cls=HelpGroup)
def report() -> None:
    """The public progress reports: status, lead times, overdue deadlines; stuck proposals."""


@report.command("status")
@listing_options
@as_of_option
@click.pass_context
def status(
    ctx: click.Context, fmt: str, output: Path | None, excel: bool, as_of_text: str | None
) -> None:
    """Proposals per state and Handlungsfeld, grouped as the public reports do.

    The four public groups count the projects the cabinet decided: in Prüfung (decided,
    not yet in implementation), in Umsetzung, abgeschlossen, nicht weiterverfolgt. The
    definition files each state under one (`public:`). Proposals before the decision
    (in Vorbereitung) and those closed without becoming a project (nicht gezählt) are
    listed apart.
    """
    data = obj(ctx).backend.report("status", as_of=as_of_text)
    if fmt == "json" and output is None:
        emit_json(data)
        return
    rows = data["rows"]
    if as_of_text is not None and fmt == "table" and output is None:
        day = date.fromisoformat(data["as_of"])
        click.echo(f"Sachstand {day:%d.%m.%Y} (end of day, Europe/Berlin)")
    fields = [
        Field("group", "GROUP"),
        Field("state", "STATE"),
        Field("label", "LABEL", table=False),
    ]
    # one column per Handlungsfeld of the newest definition, as the rows carry them
    handlungsfelder = sorted(int(k[2:]) for k in (rows[0] if rows else {}) if _is_hf(k))
    fields += [Field(f"hf{hf}", f"HF{hf}", "int") for hf in handlungsfelder]
    fields += [Field("total", "TOTAL", "int")]
    emit_listing(rows, fields, fmt, output=output, excel=excel)


@report.command("lead-times")
@listing_options
@as_of_option
@click.pass_context
def lead_times(
    ctx: click.Context, fmt: str, output: Path | None, excel: bool, as_of_text: str | None
) -> None:
    """Median and 90th percentile of days spent in each phase and state (finished stays)."""
    rows = obj(ctx).backend.report("lead-times", as_of=as_of_text)
    emit_listing(rows, LEAD_TIME_FIELDS, fmt, output=output, excel=excel)


STUCK_FIELDS = [
    Field("key", "KEY"),
    Field("definition_version", "VERSION", "int"),
    Field("state", "STATE"),
    Field("since", "LAST TRANSITION", "time"),
    Field("days", "DAYS", "int"),
    Field("reason", "REASON"),
    Field("lead", "LEAD", table=False),
    Field("title", "TITLE"),
]


@report.command("stuck")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="No transition for this many days counts as stuck.")  # fmt: skip
@listing_options
@click.pass_context
def stuck(ctx: click.Context, days: int, fmt: str, output: Path | None, excel: bool) -> None:
    """Proposals that do not move: no transition for --days days, or a state that no
    transition leaves in their definition version (though it is not final)."""
    rows = obj(ctx).backend.report("stuck", days=days)
    empty = f"no proposal is stuck (no transition for {days} days, or a dead end)"
    emit_listing(rows, STUCK_FIELDS, fmt, output=output, excel=excel, empty=empty)


@report.command("overdue")
@listing_options
@as_of_option
@click.pass_context
def overdue(
    ctx: click.Context, fmt: str, output: Path | None, excel: bool, as_of_text: str | None
) -> None:
    """Open deadlines past due now (or at --now, or at the end of --as-of), by lead ministry.

    JSON keeps the grouping by ministry; CSV is one row per deadline with its ministry.
    """
    groups = obj(ctx).backend.report("overdue", as_of=as_of_text)
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
