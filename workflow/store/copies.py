"""Copies of the database while the service runs (``ruhrflow db backup``): how to make one.

SQLite through SQLite's online backup API (``sqlite3.Connection.backup``): a consistent copy
even while ``serve`` and the scheduler write (a plain ``cp`` of a database in WAL mode may miss
the pages still in ``-wal`` or tear a page being written); the copy is one self-contained file
(journal mode DELETE). PostgreSQL with ``pg_dump --format=custom``: the command, with the
password kept apart (it goes through ``PGPASSWORD``, never the command line).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL, make_url

from workflow.errors import InvalidInput, StoreUnavailable


def libpq_url(url: str) -> tuple[str, str | None]:
    """The SQLAlchemy URL ``url`` as a libpq one (``postgresql://``) without its password,
    and the password apart (None when the URL has none)."""
    parsed = make_url(url)
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    password = parsed.password
    return plain.render_as_string(hide_password=False), (
        str(password) if password is not None else None
    )


def pg_dump_command(url: str, output: Path) -> list[str]:
    """The pg_dump command that writes the database at ``url`` to ``output`` (custom format,
    no owner), without the password."""
    libpq, _ = libpq_url(url)
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={output}", f"--dbname={libpq}"]


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL; InvalidInput for an in-memory database."""
    database = make_url(url).database or ""
    if database in ("", ":memory:"):
        raise InvalidInput("an in-memory SQLite database cannot be backed up")
    return Path(unquote(database.removeprefix("file:")).split("?", 1)[0])


def backup_sqlite(source: Path, output: Path, pages_per_step: int = 1024) -> int:
    """Copy the SQLite file ``source`` (opened read-only) to ``output`` with the online backup
    API, ``pages_per_step`` pages at a time; returns the copy's number of pages.
    StoreUnavailable when ``source`` is no file."""
    if not source.is_file():
        raise StoreUnavailable(f"no SQLite database at {source}")
    uri = f"file:{quote(str(source.resolve()))}?mode=ro"
    src = sqlite3.connect(uri, uri=True)
    dst = sqlite3.connect(output)
    try:
        src.backup(dst, pages=pages_per_step)
        dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    finally:
        dst.close()
        src.close()
    return pages
