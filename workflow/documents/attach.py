"""Attaching a document, and reading it back: the one door for the CLI, the web and the API.

The content decides what a file is (:mod:`workflow.documents.sniff`); the configured types
and size limit decide whether it is accepted; the name is cleaned for display and download.
The bytes go into the document directory before the engine writes the row and the history
entry (one transaction), or into the row itself. Reading checks the SHA-256 again: a file that
changed on disk is refused, not served.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from workflow.documents.sniff import TYPES, sniff
from workflow.engine.changes import Applied
from workflow.engine.engine import Engine
from workflow.errors import InvalidInput, UnknownProposal, WorkflowError
from workflow.store import documents as documents_store
from workflow.store import repo
from workflow.store.db import Store
from workflow.store.documents import DocumentDirectory, NewDocument

MAX_FILENAME = 200


@dataclass(frozen=True)
class Attached:
    """What attaching did: the history entry, and the document as recorded."""

    applied: Applied
    document: NewDocument


class DocumentRefused(InvalidInput):
    """A file the policy does not accept; ``de`` says why in German (for the web)."""

    def __init__(self, message: str, *, de: str) -> None:
        super().__init__(message)
        self.de = de


class UnknownDocument(InvalidInput):
    """The proposal has no document of that SHA-256 (404 over HTTP)."""


class DocumentChanged(WorkflowError):
    """A stored document's bytes no longer have the SHA-256 its history entry recorded."""

    exit_code = 1


@dataclass(frozen=True)
class DocumentPolicy:
    """What may be attached, and where it is kept (``[documents]``)."""

    max_bytes: int = 20 * 1024 * 1024
    types: frozenset[str] = frozenset(TYPES)
    directory: Path | None = None

    @classmethod
    def from_section(cls, section: Mapping[str, Any], base: Path | None = None) -> DocumentPolicy:
        """From a checked ``[documents]`` section; a relative directory is under ``base``."""
        unknown = [t for t in section.get("types", TYPES) if t not in TYPES]
        if unknown:
            known = ", ".join(TYPES)
            raise InvalidInput(f"documents.types: unknown type {unknown[0]!r} (known: {known})")
        raw_dir = str(section.get("directory") or "")
        directory = None
        if raw_dir:
            directory = Path(raw_dir)
            if not directory.is_absolute():
                directory = (base or Path.cwd()) / directory
        megabytes = float(section.get("max_megabytes", 20))
        return cls(
            max_bytes=int(megabytes * 1024 * 1024),
            types=frozenset(section.get("types", TYPES)),
            directory=directory,
        )

    def accepted(self) -> str:
        """The accepted types, for a message."""
        return ", ".join(t for t in TYPES if t in self.types)

    def accepted_de(self) -> str:
        """The accepted types by their German names, for the web."""
        return ", ".join(dict.fromkeys(TYPES[t].label.split(" (")[0] for t in TYPES
                                       if t in self.types))  # fmt: skip


def clean_filename(name: str) -> str:
    """The last part of ``name`` (no directories, either kind of slash), without control or
    format characters, at most 200 characters; "dokument" when nothing is left."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    kept = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C"
    )
    kept = kept.strip().strip(".") or "dokument"
    if len(kept) > MAX_FILENAME:
        stem, dot, ext = kept.rpartition(".")
        kept = (stem[: MAX_FILENAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else ""
        kept = kept or base[:MAX_FILENAME]
    return kept


def prepare(
    content: bytes,
    filename: str,
    policy: DocumentPolicy,
    *,
    statement_id: int | None = None,
    transition_seq: int | None = None,
) -> NewDocument:
    """Check ``content`` against ``policy`` and store its bytes where the policy says (the
    directory) — before the engine records it; raises InvalidInput with the reason."""
    if not content:
        raise DocumentRefused("the file is empty", de="Die Datei ist leer.")
    if len(content) > policy.max_bytes:
        limit = policy.max_bytes / (1024 * 1024)
        german = f"{limit:g}".replace(".", ",")
        raise DocumentRefused(
            f"the file is larger than {limit:g} MB", de=f"Die Datei ist größer als {german} MB."
        )
    kind = sniff(content)
    if kind is None or kind.name not in policy.types:
        what = "its content is no type ruhrflow knows" if kind is None else f"it is {kind.name}"
        raise DocumentRefused(
            f"the file is not accepted: {what} (accepted: {policy.accepted()})",
            de="Diese Datei wird nicht angenommen: Ihr Inhalt ist "
            + ("keines der bekannten Formate" if kind is None else f"vom Typ „{kind.label}“")
            + f". Zugelassen sind: {policy.accepted_de()}.",
        )
    sha256 = hashlib.sha256(content).hexdigest()
    stored: bytes | None = content
    if policy.directory is not None:
        DocumentDirectory(policy.directory).put(sha256, content)
        stored = None
    return NewDocument(
        sha256=sha256,
        filename=clean_filename(filename),
        content_type=kind.mime,
        size=len(content),
        content=stored,
        statement_id=statement_id,
        transition_seq=transition_seq,
    )


def attach(
    engine: Engine,
    policy: DocumentPolicy,
    key: str,
    content: bytes,
    filename: str,
    *,
    actor: str,
    now: datetime,
    statement_id: int | None = None,
    transition_seq: int | None = None,
    comment: str | None = None,
) -> Attached:
    """Check, store and attach a file to proposal ``key`` (the engine checks who may)."""
    document = prepare(content, filename, policy, statement_id=statement_id,
                       transition_seq=transition_seq)  # fmt: skip
    applied = engine.attach_document(key, document, actor=actor, now=now, comment=comment)
    return Attached(applied, document)


def listed(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A document row as the CLI and the API show it (JSON-safe, without bytes)."""
    return {
        "sha256": row["sha256"],
        "filename": row["filename"],
        "content_type": row["content_type"],
        "size": int(row["size"]),
        "statement": row["statement_id"],
        "transition": row["transition_seq"],
        "entry": row["history_seq"],
        "attached_at": row["attached_at"].isoformat(),
    }


def list_documents(store: Store, key: str) -> list[dict[str, Any]]:
    """The documents of proposal ``key``, oldest first."""
    with store.read() as conn:
        proposal = repo.load_proposal(conn, key)
        if proposal is None:
            raise UnknownProposal(key)
        return [listed(r) for r in documents_store.documents_of(conn, int(proposal["id"]))]


def read_document(
    store: Store, policy: DocumentPolicy, key: str, sha256: str
) -> tuple[dict[str, Any], bytes]:
    """The document ``sha256`` of ``key`` and its bytes, checked against its SHA-256."""
    wanted = sha256.strip().lower()
    if len(wanted) != 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise InvalidInput(f"{sha256!r} is no SHA-256 (64 hexadecimal digits)")
    with store.read() as conn:
        proposal = repo.load_proposal(conn, key)
        if proposal is None:
            raise UnknownProposal(key)
        row = documents_store.find_document(conn, int(proposal["id"]), wanted)
        if row is None:
            raise UnknownDocument(f"{key} has no document {wanted}")
        content = documents_store.content_in_row(conn, int(row["id"]))
    if content is None:
        if policy.directory is None:
            raise DocumentChanged(
                f"{key}: document {wanted} lives in a document directory, and none is"
                " configured ([documents] directory)"
            )
        content = DocumentDirectory(policy.directory).get(wanted)
    if content is None or hashlib.sha256(content).hexdigest() != wanted:
        raise DocumentChanged(
            f"{key}: document {wanted} is missing or changed in store: not served"
        )
    return listed(row), content
