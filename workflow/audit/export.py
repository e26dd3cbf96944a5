"""Exporting history with its hashes, and verifying such an export offline.

Both formats stream: rows are read through a server-side cursor and written line by
line, ordered by (chain, seq), each with every hashed field, ``hash`` and — outside the
hash — the ``actor`` behind the ref (a pseudonym after erasure) and ``actor_salt``, with
which the ref proves the actor (``workflow/store/attribution.py``; null after erasure and
for refs made before the commitments).

- JSON Lines: a header object (``ruhrflow_audit_export``), one object per entry, and a
  trailer ``{"end": {"rows", "chains", "heads_digest"}}``, so a cut-off file shows.
- CSV: a header row of the column names; ``data`` is canonical JSON; the column
  ``nulls`` names the fields that are null (CSV cannot tell null from empty text).
  Cells are neutralised against spreadsheet formulas (:mod:`workflow.spreadsheet`); the
  reader restores them before hashing, so the hashes cover the original values. A file may
  start with a UTF-8 byte order mark and use ``;`` as its delimiter (German Excel).

``verify_file`` re-computes every chain of such a file with the same walker as
``audit verify``, and every actor from its ref and salt; it needs the same
``RUHRFLOW_AUDIT_KEY`` when the export was keyed.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from workflow.audit.checkpoint import find_checkpoint, heads_digest
from workflow.audit.walker import BATCH, Break, VerifyResult, reporting, walk
from workflow.engine.chain import HASHED_FIELDS, format_time
from workflow.errors import InvalidInput
from workflow.progress import ProgressCallback
from workflow.spreadsheet import BOM, csv_writer, restore
from workflow.store import chains
from workflow.store import documents as documents_store
from workflow.store.attribution import check_entries
from workflow.store.db import Store

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (*HASHED_FIELDS, "hash", "actor", "actor_salt", "nulls")
_CSV_REQUIRED = (*HASHED_FIELDS, "hash", "actor", "nulls")  # exports before actor_salt too
_NULLABLE = ("from_state", "to_state", "comment")
_EXPORT_MARK = "ruhrflow_audit_export"


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    rows: int
    chains: int
    heads_digest: str


def _entries(store: Store) -> Iterator[dict[str, Any]]:
    with store.read() as conn:
        for row in chains.entries_with_actors(conn):
            entry = {name: row[name] for name in HASHED_FIELDS}
            entry["at"] = format_time(row["at"])
            entry["hash"] = row["hash"]
            entry["actor"] = row["actor_id"]
            entry["actor_salt"] = row["salt"]
            yield entry


def canonical_json(value: Any) -> str:
    """JSON as the chain hashes it: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def export_history(
    store: Store,
    out: TextIO,
    *,
    fmt: str,
    keyed: bool,
    now: datetime,
    delimiter: str = ",",
    bom: bool = False,
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Write every history entry to ``out`` in ``fmt`` (jsonl or csv), streaming.

    For CSV, ``delimiter`` and ``bom`` shape the file for spreadsheets; ``progress`` is
    called with the number of entries written so far (total unknown), every :data:`BATCH`
    entries.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"export format must be one of {', '.join(FORMATS)}")
    heads: list[tuple[str, int, str]] = []
    rows = 0
    writer = csv_writer(out, delimiter=delimiter, bom=bom) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    else:
        header = {
            _EXPORT_MARK: 1,
            "exported_at": format_time(now),
            "hash": "HMAC-SHA-256" if keyed else "SHA-256",
            "order": ["chain", "seq"],
        }
        out.write(canonical_json(header) + "\n")
    for entry in _entries(store):
        if heads and heads[-1][0] == entry["chain"]:
            heads[-1] = (entry["chain"], entry["seq"], entry["hash"])
        else:
            heads.append((entry["chain"], entry["seq"], entry["hash"]))
        rows += 1
        if writer is not None:
            nulls = ",".join(n for n in _NULLABLE if entry[n] is None)
            cells = {**entry, "data": canonical_json(entry["data"]), "nulls": nulls}
            writer.writerow(["" if cells[c] is None else cells[c] for c in CSV_COLUMNS])
        else:
            out.write(canonical_json(entry) + "\n")
        if progress is not None and rows % BATCH == 0:
            progress(rows, None)
    if progress is not None:
        progress(rows, None)
    digest = heads_digest(heads)
    if writer is None:
        trailer = {"end": {"rows": rows, "chains": len(heads), "heads_digest": digest,
                           "documents": _manifest(store)}}  # fmt: skip
        out.write(canonical_json(trailer) + "\n")
    out.flush()
    return ExportSummary(rows, len(heads), digest)


def _manifest(store: Store) -> list[dict[str, Any]]:
    """Every attached document (proposal, entry, SHA-256, name, size): the export's list of
    the files that belong to it; ``verify_file`` holds it to the entries' recorded hashes."""
    with store.read() as conn:
        return [
            {"key": r["key"], "seq": r["history_seq"], "sha256": r["sha256"],
             "filename": r["filename"], "size": int(r["size"])}
            for r in documents_store.every_document(conn)
        ]  # fmt: skip


def _manifest_problem(path: Path, manifest: Any) -> str | None:
    """Why the trailer's document list disagrees with the documents the entries attached."""
    attached = {
        (e["chain"], int(e["seq"])): (e.get("data") or {}).get("document", {}).get("sha256")
        for e in read_export(path)
        if e.get("kind") == "document"
    }
    listed = {}
    for item in manifest if isinstance(manifest, list) else []:
        if isinstance(item, Mapping):
            listed[(str(item.get("key")), int(item.get("seq") or 0))] = item.get("sha256")
    if listed != attached:
        return (
            f"the export's document list ({len(listed)}) does not match the documents its"
            f" entries attached ({len(attached)}), or a SHA-256 differs"
        )
    return None


class _Trailer:
    def __init__(self) -> None:
        self.value: Mapping[str, Any] | None = None


def read_export(path: Path, trailer: _Trailer | None = None) -> Iterator[dict[str, Any]]:
    """The entries of an export file (jsonl or csv, detected from the first byte)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror or exc}") from None
    with handle:
        if handle.read(1) == "{":
            handle.seek(0)
            yield from _read_jsonl(path, handle, trailer)
        else:
            handle.seek(0)
            yield from _read_csv(path, handle)


def _read_jsonl(path: Path, handle: TextIO, trailer: _Trailer | None) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{number}: not JSON: {exc.msg}") from None
        if number == 1:
            if not isinstance(doc, dict) or _EXPORT_MARK not in doc:
                raise InvalidInput(f"{path}: not a ruhrflow audit export (no header line)")
            continue
        if isinstance(doc, dict) and "end" in doc:
            if trailer is not None:
                trailer.value = doc["end"]
            continue
        if not isinstance(doc, dict) or any(n not in doc for n in (*HASHED_FIELDS, "hash")):
            raise InvalidInput(f"{path}:{number}: not a history entry")
        yield doc


def _read_csv(path: Path, handle: TextIO) -> Iterator[dict[str, Any]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # checkpoint entries carry all heads
    first = handle.readline()
    handle.seek(0)
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(handle, delimiter=delimiter)
    if reader.fieldnames is None or any(c not in reader.fieldnames for c in _CSV_REQUIRED):
        raise InvalidInput(f"{path}: not a ruhrflow audit export (CSV columns differ)")
    for number, cells in enumerate(reader, start=2):
        try:
            entry: dict[str, Any] = {
                name: restore(value) if isinstance(value, str) else value
                for name, value in cells.items()
            }
            entry["seq"] = int(entry["seq"])
            entry["data"] = json.loads(entry["data"])
        except (ValueError, json.JSONDecodeError):
            raise InvalidInput(f"{path}:{number}: malformed seq or data") from None
        for name in filter(None, str(entry["nulls"]).split(",")):
            entry[name] = None
        entry["actor_salt"] = cells.get("actor_salt") or None
        yield entry


def _is_jsonl(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return handle.read(2).lstrip(BOM)[:1] == "{"


def verify_file(
    path: Path,
    *,
    key: bytes | None,
    checkpoint_digest: str | None = None,
    progress: ProgressCallback | None = None,
) -> VerifyResult:
    """Verify an export offline: every chain, the trailer, and optionally a checkpoint.

    ``progress(done, None)`` hears of every :data:`BATCH` entries checked.
    """
    checkpoint = None
    if checkpoint_digest is not None:
        found = find_checkpoint(read_export(path), checkpoint_digest)
        if isinstance(found, str):
            return VerifyResult(0, 0, bool(key), None, Break("@system", None, found))
        checkpoint = found
    trailer = _Trailer()
    entries = reporting(read_export(path, trailer), progress, None)
    result = walk(entries, key=key, checkpoint=checkpoint)
    if result.broken is None:
        misattributed = check_entries(read_export(path))
        if misattributed is not None:
            broken = Break(*misattributed)
            return VerifyResult(result.entries, result.chains, bool(key), None, broken)
    if result.broken is not None or not _is_jsonl(path):
        return result
    end = trailer.value
    problem = None
    if end is None:
        problem = "the export ends early: its trailer line is missing"
    elif end.get("rows") != result.entries or end.get("heads_digest") != result.heads_digest:
        problem = (
            f"the export's trailer says {end.get('rows')} entries, the file holds"
            f" {result.entries} (or the heads differ): entries were removed or added"
        )
    elif "documents" in end:  # exports before 0.3.0 have no document list
        problem = _manifest_problem(path, end["documents"])
    if problem is not None:
        return VerifyResult(
            result.entries, result.chains, bool(key), None, Break(str(path.name), None, problem)
        )
    return result
