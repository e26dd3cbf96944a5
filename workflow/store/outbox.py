"""The SQL of the outbox's hot path: inserting notices, once per key.

Inserting a key that exists is a no-op (``INSERT … ON CONFLICT DO NOTHING`` on both
dialects). Many notices go in one executemany, on SQLite through the cursor
(:class:`~workflow.store.direct.Direct`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from workflow.store.direct import Direct
from workflow.store.schema import outbox

# Built once, the values come as parameters: building the statement per notice cost more
# than running it.
_INSERT_POSTGRESQL, _INSERT_SQLITE = (
    insert(outbox)
    .on_conflict_do_nothing(index_elements=[outbox.c.idempotency_key])
    .returning(outbox.c.id)
    for insert in (postgresql.insert, sqlite.insert)
)
_INSERT_MANY_POSTGRESQL = postgresql.insert(outbox).on_conflict_do_nothing(
    index_elements=[outbox.c.idempotency_key]
)
_INSERT_MANY_SQLITE = Direct(
    sqlite.insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.idempotency_key])
)


def insert_notice(conn: Connection, row: Mapping[str, Any]) -> int | None:
    """Insert one outbox row; its id, or None when its idempotency key exists already."""
    stmt = _INSERT_POSTGRESQL if conn.dialect.name == "postgresql" else _INSERT_SQLITE
    new_id = conn.execute(stmt, dict(row)).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def insert_notices(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert outbox rows in one statement; keys that exist already are skipped."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_INSERT_MANY_POSTGRESQL, list(rows))
    else:
        _INSERT_MANY_SQLITE.executemany(conn, rows)
