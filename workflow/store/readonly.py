"""Opening a SQLite file that this user may read but not write (an auditor's copy).

SQLite in WAL mode writes even to read: it creates the ``-wal`` and ``-shm`` files next
to the database and maps the shared memory index. An auditor who was given read access to
the file, or to a directory they cannot write, therefore got "attempt to write a readonly
database" or "unable to open database file" from every read command. When the file or its
directory is not writable for the current user, ruhrflow opens it with ``mode=ro``; when
the directory is not writable it adds ``immutable=1`` (no ``-shm``, no locks), unless a
``-wal`` file with content lies next to it — its transactions would be missed — in which
case ``mode=ro`` reads through the existing ``-shm``. Writes through such a store are
refused with one line (exit 1), before SQLite is asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class ReadOnlyFile:
    """How a read-only SQLite file is opened."""

    path: Path
    immutable: bool

    def url(self) -> str:
        """The SQLAlchemy URL of the file, opened read-only (SQLite URI filename)."""
        query = "mode=ro&immutable=1" if self.immutable else "mode=ro"
        return f"sqlite:///file:{quote(str(self.path))}?{query}&uri=true"


def read_only_file(database: str | None) -> ReadOnlyFile | None:
    """The read-only way to open ``database`` (a SQLite path), or None when it is writable.

    A file that does not exist yet, ``:memory:`` and URI filenames are left alone.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).resolve()
    if not path.is_file():
        return None
    directory_writable = os.access(path.parent, os.W_OK)
    if os.access(path, os.W_OK) and directory_writable:
        return None
    wal = path.with_name(path.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    return ReadOnlyFile(path, immutable=not directory_writable and not pending)
