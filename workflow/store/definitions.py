"""The ``definitions`` table: registering a definition version and listing the registered.

A version once registered never changes (``ruhrflow init`` refuses the same name and
version with other content), so proposals keep the process they started on. Reading one
version for the engine (by id, the newest, by number) is :mod:`workflow.store.repo`'s.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, insert, select

from workflow.store.db import AnyRow
from workflow.store.schema import definitions


def registration_of(conn: Connection, name: str, version: int) -> AnyRow | None:
    """``(id, content_hash)`` of the registered version ``version`` of ``name``, or None."""
    return conn.execute(
        select(definitions.c.id, definitions.c.content_hash).where(
            definitions.c.name == name,
            definitions.c.version == version,
        )
    ).first()


def register(
    conn: Connection, *, name: str, version: int, content_hash: str, source: str, now: datetime
) -> int:
    """Insert a definition version registered at ``now``; return its id. The caller has
    checked with :func:`registration_of` that it is new (a second row of the same name and
    version violates the unique key)."""
    new_id = conn.execute(
        insert(definitions)
        .values(
            name=name,
            version=version,
            content_hash=content_hash,
            source=source,
            registered_at=now,
        )
        .returning(definitions.c.id)
    ).scalar_one()
    return int(new_id)


def registered_versions(conn: Connection) -> list[RowMapping]:
    """Every registered version by name and version, as ``{"id", "name", "version",
    "content_hash", "source", "registered_at"}``.

    Only columns every release had (0001): it reads a database of any release, times as
    datetimes.
    """
    d = definitions.c
    query = select(d.id, d.name, d.version, d.content_hash, d.source, d.registered_at)
    return list(conn.execute(query.order_by(d.name, d.version)).mappings())
