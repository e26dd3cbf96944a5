"""A listing's fields and its CSV: one code for the CLI's ``--format csv [--excel]`` and the
web's download, so that both write the same cells.

A listing declares its :class:`Field` s once. CSV carries every machine field in order: times
RFC 3339 in UTC, amounts as exact decimal strings, lists joined with ``,``; German Excel
(``excel``) gets ``;`` between cells, a decimal comma in amounts and measures and a UTF-8 byte
order mark. Every cell goes through :mod:`workflow.spreadsheet`, which neutralises formulas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from workflow.app.machine import machine_value
from workflow.spreadsheet import csv_writer


@dataclass(frozen=True)
class Field:
    """One field of a listing: its machine name, its header and its kind.

    ``kind`` is one of text, int, number (a measure such as days, two places in CSV), amount,
    time, date, flag (a bool), list, json; ``table`` says whether the human table shows it,
    ``machine`` whether JSON and CSV carry it (only a column derived for people, such as
    ``from → to``, leaves them out). ``header`` names the column for people: the CLI's table
    (``KEY``), the web's German CSV (``Schlüssel``).
    """

    key: str
    header: str
    kind: str = "text"
    table: bool = True
    machine: bool = True


def csv_cell(value: Any, kind: str, *, excel: bool) -> Any:
    """``value`` of a field of ``kind`` as a CSV cell (before neutralising); ``excel`` writes
    amounts and measures with a decimal comma."""
    value = machine_value(value, kind)
    if value is None:
        return ""
    if kind == "list":
        return ",".join(str(v) for v in value)
    if kind == "json" or isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON writes it
    if kind == "number" and isinstance(value, int | float):
        value = f"{value:.2f}"
    elif isinstance(value, float):
        value = repr(value)
    if kind in ("amount", "number") and excel:
        return str(value).replace(".", ",")
    return value


def write_csv(
    out: TextIO,
    rows: Iterable[Mapping[str, Any]],
    fields: Sequence[Field],
    *,
    excel: bool = False,
    bom: bool = False,
    headers: bool = False,
) -> Iterator[int]:
    """Write ``rows`` to ``out`` as CSV, yielding the count after each row (so that a caller
    can stream ``out`` in pieces). The first line names the columns: by their keys, or by
    their ``header`` when ``headers``. ``excel`` (German Excel) implies ``bom``."""
    machine = [f for f in fields if f.machine]
    writer = csv_writer(out, delimiter=";" if excel else ",", bom=bom or excel)
    writer.writerow(f.header if headers else f.key for f in machine)
    for count, row in enumerate(rows, start=1):
        writer.writerow(csv_cell(row.get(f.key), f.kind, excel=excel) for f in machine)
        yield count
