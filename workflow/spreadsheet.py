"""CSV that a spreadsheet opens safely: formula cells neutralised, reversibly.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and, after a tab or carriage return, too) as a formula: a proposal titled
``=HYPERLINK(…)`` would become a live link in the auditor's spreadsheet. Following the
OWASP guidance on CSV injection, every such cell is written with a leading single quote,
which spreadsheets show as text. Plain numbers (``-1250.50``) cannot be formulas and stay
as they are, so amounts remain numbers.

The prefix is reversible, so that ``audit verify --file`` can check an export against
hashes taken over the original values: a cell that already starts with a quote followed by
a formula character or another quote gets a quote too, and :func:`restore` strips exactly
one quote from a cell that starts with a quote followed by one of those. Every CSV that
ruhrflow writes goes through :func:`csv_writer`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
BOM = "\ufeff"
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: a formula start gets a leading quote."""
    if not cell:
        return cell
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return QUOTE + cell
    if cell[0] == QUOTE and len(cell) > 1 and cell[1] in (*FORMULA_STARTS, QUOTE):
        return QUOTE + cell  # so that restore() can tell our quote from the writer's own
    return cell


def restore(cell: str) -> str:
    """The original of a cell written by :func:`neutralise` (its exact inverse)."""
    if len(cell) > 1 and cell[0] == QUOTE and cell[1] in (*FORMULA_STARTS, QUOTE):
        return cell[1:]
    return cell


class SafeWriter:
    """A ``csv.writer`` whose every cell is neutralised first."""

    def __init__(self, out: TextIO, *, delimiter: str = ",") -> None:
        self._writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")

    def writerow(self, cells: Iterable[Any]) -> None:
        """Write one row; ``None`` becomes an empty cell, everything else its text."""
        self._writer.writerow(["" if c is None else neutralise(str(c)) for c in cells])


def csv_writer(out: TextIO, *, delimiter: str = ",", bom: bool = False) -> SafeWriter:
    """A writer of neutralised CSV to ``out``; ``bom`` first writes the UTF-8 byte order
    mark that German Excel needs to read the file as UTF-8."""
    if bom:
        out.write(BOM)
    return SafeWriter(out, delimiter=delimiter)
