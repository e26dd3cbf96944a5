"""The ``documents`` table and the document directory: where attached files live.

A document is stored once per proposal under its SHA-256: in the row (``content``) by
default, or — when ``[documents] directory`` is set — as a file named by its SHA-256 in that
directory, written and synced before the row commits. A file there whose row never committed
(a crash between the two) is harmless: nothing names it, and the same content attached again
finds it in place. Rows are append-only (migration 0013).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select

from workflow.store.schema import documents, history, proposals, statements


@dataclass(frozen=True)
class NewDocument:
    """A document checked and ready to attach (its bytes already in the document directory
    when ``content`` is None)."""

    sha256: str
    filename: str
    content_type: str
    size: int
    content: bytes | None
    statement_id: int | None = None
    transition_seq: int | None = None

    def row(self) -> dict[str, Any]:
        """The columns of its row that it knows (the engine adds proposal, entry, time)."""
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "content": self.content,
            "statement_id": self.statement_id,
            "transition_seq": self.transition_seq,
        }

    def entry(self) -> dict[str, Any]:
        """What the history entry that attaches it records (the SHA-256 proves the bytes)."""
        found: dict[str, Any] = {
            "sha256": self.sha256,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }
        if self.statement_id is not None:
            found["statement"] = self.statement_id
        if self.transition_seq is not None:
            found["transition"] = self.transition_seq
        return found


def problem_of(conn: Connection, proposal: Mapping[str, Any], doc: NewDocument) -> str | None:
    """Why ``doc`` cannot be attached to ``proposal`` (in ``conn``'s transaction), or None:
    the statement or transition it names is not the proposal's. (The same file twice:
    :func:`find_document`.)"""
    if doc.statement_id is not None:
        owner = conn.execute(
            select(statements.c.proposal_id).where(statements.c.id == doc.statement_id)
        ).scalar_one_or_none()
        if owner != proposal["id"]:
            return f"statement {doc.statement_id} is not one of {proposal['key']}'s"
    if doc.transition_seq is not None:
        kind = conn.execute(
            select(history.c.kind).where(
                history.c.chain == proposal["key"], history.c.seq == doc.transition_seq
            )
        ).scalar_one_or_none()
        if kind != "transition":
            return f"entry {doc.transition_seq} of {proposal['key']}'s history is no transition"
    return None


# Every column but the bytes: what lists and the audit read.
_LISTED = [c for c in documents.c if c.name != "content"]


def insert_document(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert one document row (all columns but ``id``) in ``conn``'s write transaction;
    returns its id. The unique (proposal, SHA-256) refuses the same file twice."""
    found = conn.execute(insert(documents).values(**values).returning(documents.c.id))
    return int(found.scalar_one())


def find_document(conn: Connection, proposal_id: int, sha256: str) -> RowMapping | None:
    """The row of ``sha256`` on the proposal (without its bytes), or None."""
    stmt = select(*_LISTED).where(
        documents.c.proposal_id == proposal_id, documents.c.sha256 == sha256
    )
    return conn.execute(stmt).mappings().first()


def documents_of(conn: Connection, proposal_id: int) -> list[RowMapping]:
    """The documents of one proposal, in the order they were attached (without bytes)."""
    stmt = select(*_LISTED).where(documents.c.proposal_id == proposal_id)
    return list(conn.execute(stmt.order_by(documents.c.id)).mappings())


def content_in_row(conn: Connection, document_id: int) -> bytes | None:
    """The bytes the row holds (None when the document directory holds them)."""
    stmt = select(documents.c.content).where(documents.c.id == document_id)
    found = conn.execute(stmt).scalar_one_or_none()
    return None if found is None else bytes(found)


def every_document(conn: Connection) -> Iterator[RowMapping]:
    """Every document with its proposal's key and the data of the history entry that
    attached it (for ``audit verify``), without bytes, in id order."""
    stmt = (
        select(*_LISTED, proposals.c.key, history.c.data.label("entry_data"))
        .join(proposals, proposals.c.id == documents.c.proposal_id)
        .outerjoin(
            history,
            (history.c.chain == proposals.c.key) & (history.c.seq == documents.c.history_seq),
        )
        .order_by(documents.c.id)
    )
    yield from conn.execute(stmt).mappings()


class DocumentDirectory:
    """Files named by their SHA-256 under ``root/ab/abcdef…`` (two levels keep directories
    small). Writing is atomic: a temporary file in the same directory, synced, renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """Where the file of ``sha256`` lives."""
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, content: bytes) -> None:
        """Store ``content`` under ``sha256`` (nothing to do when it is there already)."""
        target = self.path_of(sha256)
        if target.exists() and _sha256_of_file(target) == sha256:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    def get(self, sha256: str) -> bytes | None:
        """The bytes stored under ``sha256``, or None when the file is missing."""
        try:
            return self.path_of(sha256).read_bytes()
        except FileNotFoundError:
            return None


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
