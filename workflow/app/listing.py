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
    ``from → to``, leaves them out). ``header`` names the column in the CLI's table (``KEY``),
    ``german`` in the web's CSV for German Excel (``Kennung``; the key when empty).
    """

    key: str
    header: str
    kind: str = "text"
    table: bool = True
    machine: bool = True
    german: str = ""


# The fields of the proposal list: ``proposal list`` in the CLI, the list's download on the web.
PROPOSAL_FIELDS = (
    Field("key", "KEY", german="Kennung"),
    Field("state", "STATE", german="Status"),
    Field("handlungsfeld", "HF", "int", german="Handlungsfeld"),
    Field("themenforum", "FORUM", "int", german="Themenforum"),
    Field("lead", "LEAD", german="Federführendes Ressort"),
    Field("participating", "PARTICIPATING", "list", table=False, german="Beteiligte Ressorts"),
    Field("cost_estimate", "COST", "amount", german="Kostenschätzung (Euro)"),
    Field("title", "TITLE", german="Titel"),
    Field("version", "VERSION", "int", table=False, german="Änderungszähler"),
    Field("definition_id", "DEFINITION", "int", table=False, german="Prozessdefinition (ID)"),
    Field("state_entered_at", "STATE SINCE", "time", table=False, german="Im Status seit"),
    Field("updated_at", "UPDATED", "time", table=False, german="Letzte Änderung"),
    Field("definition_version", "DEF", "int", german="Prozessversion"),
    Field("definition_hash", "DEFINITION HASH", table=False, german="Prüfsumme der Prozessversion"),
)


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
    german: bool = False,
) -> Iterator[int]:
    """Write ``rows`` to ``out`` as CSV, yielding the count after each row (so that a caller
    can stream ``out`` in pieces). The first line names the columns: by their keys, or by
    their German names when ``german``. ``excel`` (German Excel) implies ``bom``."""
    machine = [f for f in fields if f.machine]
    writer = csv_writer(out, delimiter=";" if excel else ",", bom=bom or excel)
    writer.writerow((f.german or f.key) if german else f.key for f in machine)
    for count, row in enumerate(rows, start=1):
        writer.writerow(csv_cell(row.get(f.key), f.kind, excel=excel) for f in machine)
        yield count
