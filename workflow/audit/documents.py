"""``audit verify`` for documents: every stored file still has the SHA-256 that the history
entry attaching it recorded.

The entry's hash chain proves the recorded SHA-256 unchanged; this proves the bytes: each
document row's bytes (or its file in the document directory) are hashed again and compared
with the row and with its entry. The first mismatch is a break, named by proposal, entry and
SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow.store import documents as documents_store
from workflow.store.db import Store
from workflow.store.documents import DocumentDirectory


@dataclass(frozen=True)
class DocumentBreak:
    """The first document that does not verify."""

    key: str
    seq: int
    sha256: str
    problem: str


@dataclass(frozen=True)
class DocumentsVerified:
    """What the check found: how many documents, and the first break (None: all hold)."""

    checked: int
    broken: DocumentBreak | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        b = self.broken
        return {
            "checked": self.checked,
            "broken": None if b is None else {"key": b.key, "seq": b.seq,
                                               "sha256": b.sha256, "problem": b.problem},
        }  # fmt: skip


def verify_documents(store: Store, directory: Path | None) -> DocumentsVerified:
    """Hash every document again (``directory``: the configured document directory)."""
    files = DocumentDirectory(directory) if directory is not None else None
    checked = 0
    with store.read() as conn:
        for row in documents_store.every_document(conn):
            problem = _problem(conn, row, files)
            if problem is not None:
                return DocumentsVerified(
                    checked, DocumentBreak(row["key"], row["history_seq"], row["sha256"], problem)
                )
            checked += 1
    return DocumentsVerified(checked, None)


def _problem(conn: Any, row: Any, files: DocumentDirectory | None) -> str | None:
    entry = (row["entry_data"] or {}).get("document") or {}
    if entry.get("sha256") != row["sha256"]:
        return "the history entry that attached it records another SHA-256 (or none)"
    content = documents_store.content_in_row(conn, int(row["id"]))
    if content is None:
        if files is None:
            return "its file lives in a document directory, and none is configured"
        content = files.get(row["sha256"])
        if content is None:
            return f"its file is missing from the document directory ({files.root})"
    if hashlib.sha256(content).hexdigest() != row["sha256"]:
        return "its bytes changed: their SHA-256 is not the recorded one"
    if len(content) != int(row["size"]):
        return "its size is not the recorded one"
    return None
