"""Printing rows as a table, JSON or CSV, and times in Europe/Berlin."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import click

from workflow.process.vocabulary import BERLIN

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """A ``--format`` option with the given choices (the first is the default)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default or choices[0],
        show_default=True,
        help="Output format.",
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (UTF-8, umlauts kept)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def local_time(value: str | datetime | None) -> str:
    """An ISO time shown in Europe/Berlin, to the minute."""
    if value is None or value == "":
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    # Keep one row per line and no terminal control characters in a table cell.
    return "".join(ch if ch.isprintable() else " " for ch in text)


def emit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    max_width: int = 60,
) -> None:
    """Print rows as an aligned text table with the given (key, header) columns."""
    cells = [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    headers = [h for _, h in columns]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def emit_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    """Print rows as CSV with a header line of the column keys."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([k for k, _ in columns])
    for r in rows:
        writer.writerow([_cell(r.get(k)) for k, _ in columns])
    sys.stdout.flush()


def emit_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], fmt: str
) -> None:
    """Print rows in ``fmt`` (table, json or csv)."""
    if fmt == "json":
        emit_json(list(rows))
    elif fmt == "csv":
        emit_csv(rows, columns)
    else:
        emit_table(rows, columns)
