"""The one output module: every listing as a table, JSON or CSV, with the same fields.

A listing declares its :class:`Field` s once; the formats then agree by construction:

- ``json`` and ``csv`` carry every field under the same name, in the same order. Times are
  RFC 3339 in UTC with ``Z``; amounts are decimal strings with two places (``"2500000.00"``,
  exact, as the history records them); lists are JSON arrays (CSV: joined with ``,``).
- ``table`` is for people: the fields marked for it, times in Europe/Berlin as
  ``05.11.2019 10:00``, amounts as ``2.500.000,00 €`` (German number format).
- CSV cells that a spreadsheet would run as a formula are neutralised
  (:mod:`workflow.spreadsheet`). ``--output FILE`` writes the file with a UTF-8 byte order
  mark so German Excel reads the umlauts; ``--excel`` also separates with ``;`` and writes
  amounts with a decimal comma. The CSV is :mod:`workflow.app.listing`'s, which the web's
  downloads write too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from workflow.app.listing import Field as Field  # re-exported: the listings of the CLI
from workflow.app.listing import write_csv
from workflow.app.machine import (
    _as_datetime,
    _decimal,
    json_default,
    machine_value,
    zulu,
)
from workflow.process.vocabulary import BERLIN

F = TypeVar("F", bound=Callable[..., Any])
LISTING_FORMATS = ("table", "json", "csv")


class _FormatChoice(click.Choice):  # type: ignore[type-arg]
    """table|json|csv; ``text`` is still accepted for ``table`` (its name before 0.2)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert("table" if value == "text" else value, param, ctx)


def format_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """A ``--format`` option with the given choices (the first is the default)."""
    kind: click.Choice = (  # type: ignore[type-arg]
        _FormatChoice(choices) if "table" in choices else click.Choice(choices)
    )
    return click.option(
        "--format",
        "fmt",
        type=kind,
        default=default or choices[0],
        show_default=True,
        help="Output format.",
    )


def listing_options(func: F) -> F:
    """``--format table|json|csv``, ``--output FILE`` and ``--excel`` for a listing."""
    func = click.option(
        "--excel",
        is_flag=True,
        help="CSV for German Excel: ';' between cells, decimal comma, byte order mark.",
    )(func)
    func = click.option(
        "--output",
        "output",
        metavar="FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write to FILE instead of standard output (CSV with a byte order mark).",
    )(func)
    return format_option(*LISTING_FORMATS)(func)


# ---- values ---------------------------------------------------------------------------------


def local_time(value: str | datetime | None) -> str:
    """An ISO time shown in Europe/Berlin, to the minute."""
    if value is None or value == "":
        return ""
    return _as_datetime(value).astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")


def german_time(value: str | datetime | None) -> str:
    """A time in Europe/Berlin as German readers write it: ``05.11.2019 10:00``."""
    if value is None or value == "":
        return ""
    return _as_datetime(value).astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def german_amount(value: Any, *, unit: str = " €") -> str:
    """An amount in German number format: ``2.500.000,00 €``."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    text = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return text + unit


def german_number(value: Any) -> str:
    """A count or measure in German format: ``1.234`` or ``12,5``."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if isinstance(value, float | Decimal):
        return f"{value:,.1f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return str(value)


def _table_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "time":
        return german_time(value)
    if kind == "date":
        return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
    if kind == "flag":
        return "yes" if value else ""
    if kind == "amount":
        return german_amount(value)
    if kind == "int" or isinstance(value, int | float | Decimal):
        return german_number(value)
    if kind == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return _cell(value)


def shown(value: Any) -> str:
    """``value`` as text safe for a terminal: every non-printable character (ESC, CR, LF,
    bidi controls, …) written as its escape, so rows written before the input policy (or
    past it) cannot move the cursor, recolour or reorder the screen."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


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


# ---- writing --------------------------------------------------------------------------------


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (UTF-8, umlauts kept; times RFC 3339 in UTC, ``Z``)."""
    click.echo(json.dumps(zulu(data), indent=2, ensure_ascii=False, default=json_default))


@contextmanager
def _target(output: Path | None) -> Iterator[tuple[TextIO, bool]]:
    """Standard output, or ``output`` written whole or not at all; yields (stream, is_file)."""
    from workflow.errors import InvalidInput

    if output is None:
        yield sys.stdout, False
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out, True
        partial.replace(output)
    except OSError as exc:
        raise InvalidInput(f"{output}: {exc.strerror or exc}") from None


def emit_listing(
    rows: Iterable[Mapping[str, Any]],
    fields: Sequence[Field],
    fmt: str,
    *,
    output: Path | None = None,
    excel: bool = False,
    empty: str | None = None,
) -> int:
    """Write ``rows`` as ``fmt`` (table, json or csv) with ``fields``; returns the count.

    JSON and CSV stream row by row. ``empty`` is printed instead of an empty table.
    """
    count = 0
    machine = [f for f in fields if f.machine]
    with _target(output) as (out, to_file):
        if fmt == "json":
            out.write("[")
            for count, row in enumerate(rows, start=1):
                doc = {f.key: machine_value(row.get(f.key), f.kind) for f in machine}
                text = json.dumps(doc, indent=2, ensure_ascii=False, default=json_default)
                out.write(("\n" if count == 1 else ",\n") + _indent(text))
            out.write("\n]\n" if count else "]\n")
        elif fmt == "csv":
            for count in write_csv(out, rows, fields, excel=excel, bom=to_file):  # noqa: B007
                pass
        else:
            materialised = list(rows)
            count = len(materialised)
            if not materialised and empty is not None:
                out.write(empty + "\n")
            else:
                shown = [f for f in fields if f.table]
                cells = [[_table_value(r.get(f.key), f.kind) for f in shown] for r in materialised]
                right = [f.kind in ("amount", "int", "number") for f in shown]
                _write_table(out, cells, [f.header for f in shown], right=right)
    if to_file:
        click.echo(f"wrote {count} row(s) to {output}", err=True)
    return count


def _indent(text: str) -> str:
    # split("\n"), not splitlines(): a value may hold U+2028 and its kin, which JSON keeps raw
    return "\n".join("  " + line for line in text.split("\n"))


def _write_table(
    out: TextIO,
    cells: list[list[str]],
    headers: Sequence[str],
    *,
    right: Sequence[bool] | None = None,
    max_width: int = 60,
) -> None:
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    align = right or [False] * len(headers)

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(headers))
    for row in cells:
        out.write(line(row))


def emit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    max_width: int = 60,
) -> None:
    """Print rows as an aligned text table with the given (key, header) columns."""
    cells = [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    _write_table(sys.stdout, cells, [h for _, h in columns], max_width=max_width)
    sys.stdout.flush()


def emit_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], fmt: str
) -> None:
    """Print rows in ``fmt`` (table, json or csv) with (key, header) columns as text fields."""
    emit_listing(rows, [Field(k, h) for k, h in columns], fmt)
