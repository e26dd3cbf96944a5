"""The installation id: a random value made once per database (migration 0007, ``init``).

Everything that must be unique across databases, not only within one, derives from it:
the Message-IDs of notices and the UIDs of their calendar parts. Two databases made from
the same shipped data (the demo and production, a test copy) then never give the same
ids, so mail systems do not drop real mail as a duplicate of test mail and calendars do not
merge unrelated events. A copy of a database file is the same installation: that is
intended (a restored backup must keep recognising its own notices).

The same row says whether the database holds sample data (migration 0010, set by
``ruhrflow demo``): where it comes from, shown on every published page and web page.
"""

from __future__ import annotations

import secrets
import weakref
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from workflow.errors import StoreUnavailable
from workflow.store.schema import installation

_ROW_ID = 1
# Per SQLAlchemy engine (one database): the id never changes once made.
_CACHE: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def installation_id(conn: Connection) -> str:
    """The installation id of the database behind ``conn`` (read once per engine).

    Raises :class:`~workflow.errors.StoreUnavailable` when the database has none, i.e. it
    was not set up with ``ruhrflow init``.
    """
    cached = _CACHE.get(conn.engine)
    if cached is not None:
        return cached
    found = conn.execute(
        select(installation.c.installation_id).where(installation.c.id == _ROW_ID)
    ).scalar_one_or_none()
    if found is None:
        raise StoreUnavailable("the database has no installation id: run `ruhrflow init`")
    _CACHE[conn.engine] = str(found)
    return str(found)


def ensure_installation(conn: Connection, now: datetime) -> str:
    """Make the installation id if the database has none (in ``conn``'s write transaction)."""
    found = conn.execute(
        select(installation.c.installation_id).where(installation.c.id == _ROW_ID)
    ).scalar_one_or_none()
    if found is not None:
        return str(found)
    new = secrets.token_hex(16)
    conn.execute(insert(installation).values(id=_ROW_ID, installation_id=new, created_at=now))
    return new


def replace_installation(conn: Connection) -> tuple[str, str]:
    """Give the database a new installation id (in ``conn``'s write transaction); returns the
    old and the new one. For a copy (staging, a restored backup used elsewhere): its mails
    then no longer carry the Message-IDs of the database it was copied from."""
    old = conn.execute(
        select(installation.c.installation_id).where(installation.c.id == _ROW_ID)
    ).scalar_one_or_none()
    if old is None:
        raise StoreUnavailable("the database has no installation id: run `ruhrflow init`")
    new = secrets.token_hex(16)
    conn.execute(
        update(installation).where(installation.c.id == _ROW_ID).values(installation_id=new)
    )
    _CACHE.pop(conn.engine, None)
    return str(old), new


def mark_sample_data(conn: Connection, note: str) -> None:
    """Say that the database holds sample data, and where it comes from (German, shown on
    every published page and in the web application; in ``conn``'s write transaction)."""
    conn.execute(update(installation).where(installation.c.id == _ROW_ID).values(sample_data=note))


def sample_data(conn: Connection) -> str | None:
    """Where the sample data of this database comes from; None for a real database."""
    found = conn.execute(
        select(installation.c.sample_data).where(installation.c.id == _ROW_ID)
    ).scalar_one_or_none()
    return str(found) if found else None
