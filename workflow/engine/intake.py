"""Bringing proposals in: what a proposal needs, the CSV import's rows, the new rows.

The checks of one proposal (:func:`validate`), the rows of an import file (:func:`read_csv`,
:func:`sort_rows`) and the rows and first history entries of new proposals
(:func:`new_proposals`). The engine creates them in its unit of work
(:meth:`workflow.engine.engine.Engine.create_proposals`): permission, write, history,
effects, refusal log.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflow.access.directory import Directory
from workflow.engine import history
from workflow.engine.changes import Applied
from workflow.errors import DuplicateProposal, InvalidInput
from workflow.inputs import (
    MAX_SOURCE,
    MAX_SUMMARY,
    MAX_TITLE,
    check_length,
    check_money,
    check_text,
    is_blank,
    matches_whole,
    parse_decimal,
    parse_whole_number,
)
from workflow.process.definition import Definition
from workflow.progress import ProgressCallback
from workflow.store import limits

CSV_COLUMNS = (
    "key", "title", "handlungsfeld", "themenforum", "lead", "participating",
    "cost_estimate", "summary",
)  # fmt: skip
MAX_CSV_FIELD = 128 * 1024  # the csv module's default field_size_limit()
KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,9}(-[A-Z0-9]{1,10}){1,4}$")


@dataclass(frozen=True)
class ProposalInput:
    """A proposal as a coordinator or a CSV row gives it (validated by ``validate``)."""

    title: str
    handlungsfeld: int
    themenforum: int
    lead: str
    key: str | None = None
    participating: tuple[str, ...] = ()
    cost_estimate: Decimal | None = None
    summary: str = ""
    source: str | None = None


def _clean_text(value: str, what: str, limit: int, *, required: bool, multiline: bool) -> str:
    text = value.strip()
    if required and is_blank(text):  # a zero-width space is no title
        raise InvalidInput(f"{what} must not be empty")
    return check_text(text, what, multiline=multiline, limit=limit)


def validate(item: ProposalInput, directory: Directory) -> ProposalInput:
    """Check one proposal input; return it normalised or raise InvalidInput."""
    title = _clean_text(item.title, "title", MAX_TITLE, required=True, multiline=False)
    summary = _clean_text(item.summary, "summary", MAX_SUMMARY, required=False, multiline=True)
    if item.key is not None:
        if not matches_whole(KEY_PATTERN, item.key):
            raise InvalidInput(f"key {item.key!r} does not look like RK-03-01")
        check_length(item.key, limits.PROPOSAL_KEY, f"key {item.key}")
    source = item.source
    if source is not None:
        check_text(source, "source", limit=MAX_SOURCE)
    if item.handlungsfeld not in (1, 2, 3, 4, 5):
        raise InvalidInput(f"handlungsfeld must be 1 to 5, not {item.handlungsfeld}")
    if not 1 <= item.themenforum <= 99:
        raise InvalidInput(f"themenforum must be a forum number, not {item.themenforum}")
    if directory.ministry(item.lead) is None:
        raise InvalidInput(f"unknown lead ministry {item.lead!r}")
    for code in item.participating:
        if directory.ministry(code) is None:
            raise InvalidInput(f"unknown participating ministry {code!r}")
        if code == item.lead:
            raise InvalidInput(f"{code} is the lead ministry and cannot also participate")
    cost = item.cost_estimate
    if cost is not None:
        check_money(cost, limits.PROPOSAL_COST_ESTIMATE, "cost estimate")
    return ProposalInput(
        title=title,
        handlungsfeld=item.handlungsfeld,
        themenforum=item.themenforum,
        lead=item.lead,
        key=item.key,
        participating=tuple(dict.fromkeys(item.participating)),
        cost_estimate=cost,
        summary=summary,
        source=source,
    )


def parse_amount(raw: str, what: str = "amount") -> Decimal:
    """Euros as given on the command line or in a CSV (``3000000``, ``3000000.50``).

    Only the form is checked here; :func:`workflow.inputs.check_money` checks the value
    against the column it goes into.
    """
    return parse_decimal(raw, what)


def _int(raw: str, what: str) -> int:
    return parse_whole_number(raw, what)


def read_csv(data: bytes) -> list[tuple[int, Mapping[str, str]]]:
    """Rows of an import file with their line numbers; bad encoding or columns are rejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _read_rows(reader)
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (128 KiB)
        raise InvalidInput(f"line {reader.line_num}: not a readable CSV row: {exc}") from None


def _read_rows(reader: csv.DictReader[str]) -> list[tuple[int, Mapping[str, str]]]:
    header = reader.fieldnames or []
    doubled = sorted({c for c in header if header.count(c) > 1})
    if doubled:
        raise InvalidInput(f"the header names the columns {', '.join(doubled)} more than once")
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"the file lacks the columns {', '.join(missing)}")
    unknown = [c for c in header if c not in (*CSV_COLUMNS, "source")]
    if unknown:
        raise InvalidInput(f"unknown columns {', '.join(unknown)}")
    rows: list[tuple[int, Mapping[str, str]]] = []
    for row in reader:
        if None in row:  # more cells than columns
            raise InvalidInput(f"line {reader.line_num}: more cells than columns")
        # csv's own limit is process-wide, and reading an audit export raises it
        if any(len(cell or "") > MAX_CSV_FIELD for cell in row.values()):
            raise InvalidInput(
                f"line {reader.line_num}: a field larger than the field limit"
                f" ({MAX_CSV_FIELD} characters)"
            )
        rows.append((reader.line_num, row))
    return rows


def input_from_row(row: Mapping[str, str]) -> ProposalInput:
    """A ProposalInput from one CSV row (raises InvalidInput)."""
    cost_raw = (row.get("cost_estimate") or "").strip()
    participating = tuple(
        p.strip() for p in (row.get("participating") or "").split(";") if p.strip()
    )
    return ProposalInput(
        key=(row.get("key") or "").strip() or None,
        title=row.get("title") or "",
        handlungsfeld=_int(row.get("handlungsfeld") or "", "handlungsfeld"),
        themenforum=_int(row.get("themenforum") or "", "themenforum"),
        lead=(row.get("lead") or "").strip(),
        participating=participating,
        cost_estimate=parse_amount(cost_raw, "cost_estimate") if cost_raw else None,
        # a line break inside a quoted cell comes as CRLF from Windows tools: LF is the text's
        summary=(row.get("summary") or "").replace("\r\n", "\n"),
        source=(row.get("source") or "").strip() or None,
    )


def _next_key(taken: set[str], forum: int, reserved: set[str]) -> str:
    n = 1
    while f"RK-{forum:02d}-{n:02d}" in taken or f"RK-{forum:02d}-{n:02d}" in reserved:
        n += 1
    return f"RK-{forum:02d}-{n:02d}"


def new_proposals(
    items: Sequence[ProposalInput],
    *,
    taken: set[str],
    definition: Definition,
    definition_id: int,
    ref: str,
    now: datetime,
    audit_key: bytes | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The proposal rows of ``items`` in ``definition``'s initial state and their first history
    entries (actor ``ref``); a missing key is the next free one of the item's Themenforum.

    ``taken`` holds the keys in use and grows by the new ones; a key in it is a
    :class:`~workflow.errors.DuplicateProposal`. A generated key never takes one that a later
    item of the batch names itself.
    """
    reserved = {item.key for item in items if item.key}
    rows, entries = [], []
    for item in items:
        key = item.key or _next_key(taken, item.themenforum, reserved)
        if key in taken:
            raise DuplicateProposal(key)
        taken.add(key)
        data: dict[str, Any] = {"source": item.source} if item.source else {}
        entry = history.new_entry(
            chain=key,
            seq=1,
            kind="created",
            trigger="create",
            from_state=None,
            to_state=definition.initial,
            actor_ref=ref,
            comment=None,
            data=_snapshot(item, key),
            at=now,
            prev_hash=None,
            audit_key=audit_key,
        )
        entries.append(entry)
        rows.append(
            {
                "key": key,
                "title": item.title,
                "summary": item.summary,
                "handlungsfeld": item.handlungsfeld,
                "themenforum": item.themenforum,
                "lead": item.lead,
                "participating": list(item.participating),
                "cost_estimate": item.cost_estimate,
                "state": definition.initial,
                "definition_id": definition_id,
                "row_version": 1,
                "state_entered_at": now,
                "created_at": now,
                "updated_at": now,
                "data": data,
                "history_seq": 1,
                "history_head": entry["hash"],
            }
        )
    return rows, entries


def created(
    rows: Sequence[Mapping[str, Any]],
    ids: Mapping[str, int],
    *,
    actor: str,
    now: datetime,
    definition: Definition,
) -> list[Applied]:
    """The creation of ``rows`` as the transition effects see it (the entry into the initial
    state: its deadlines): trigger ``create``, an empty ``from_state``."""
    return [
        Applied(
            key=r["key"],
            proposal_id=ids[r["key"]],
            trigger="create",
            from_state="",
            to_state=r["state"],
            actor=actor,
            comment=None,
            fields={},
            seq=1,
            at=now,
            definition=definition,
            transition=None,
            proposal={**r, "id": ids[r["key"]]},
        )
        for r in rows
    ]


def _snapshot(item: ProposalInput, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "title": item.title,
        "handlungsfeld": item.handlungsfeld,
        "themenforum": item.themenforum,
        "lead": item.lead,
        "participating": list(item.participating),
        # the form every machine format uses (two places), so history and listings agree
        "cost_estimate": None if item.cost_estimate is None else f"{item.cost_estimate:.2f}",
    }


def sort_rows(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    directory: Directory,
    existing: set[str],
    progress: ProgressCallback | None = None,
) -> tuple[list[ProposalInput], list[tuple[int, str]]]:
    """The valid proposals of an import's ``rows`` and the (line, reason) of every bad one:
    invalid, a key in ``existing``, or a key the file names twice. ``progress(done, total)``
    hears of every row checked."""
    total = len(rows) if isinstance(rows, Sized) else None
    good: list[ProposalInput] = []
    bad: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for done, (line, row) in enumerate(rows):
        if progress is not None:
            progress(done, total)
        try:
            item = validate(input_from_row(row), directory)
        except InvalidInput as exc:
            bad.append((line, str(exc)))
            continue
        if item.key in existing:
            bad.append((line, f"proposal {item.key} exists already"))
        elif item.key is not None and item.key in seen:
            bad.append((line, f"key {item.key} appears again (first on line {seen[item.key]})"))
        else:
            if item.key is not None:
                seen[item.key] = line
            good.append(item)
    return good, bad
