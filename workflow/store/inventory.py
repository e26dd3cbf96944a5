"""What a database of any release holds, read without assuming the current schema.

``ruhrflow db status`` and ``init --dry-run`` look at databases that an earlier release
made (a migration behind, or empty) or a newer one: every table is asked for before it is
read, and the reads use only columns that the table had from its first migration on —
plain SQL where the current schema's types would assume more.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text


def table_names(conn: Connection) -> set[str]:
    """The names of the tables in the database."""
    return set(inspect(conn).get_table_names())


def column_names(conn: Connection, table: str) -> set[str]:
    """The names of the columns of ``table`` (which must exist)."""
    return {c["name"] for c in inspect(conn).get_columns(table)}


def schema_revision(conn: Connection, tables: set[str]) -> str | None:
    """The Alembic revision the schema stands at; None when the database has none
    (``tables`` is :func:`table_names`)."""
    return _scalar(conn, "SELECT version_num FROM alembic_version", "alembic_version", tables)


def installation_value(conn: Connection, column: str, tables: set[str]) -> str | None:
    """The text of ``installation.<column>`` (``installation_id`` or ``sample_data``) of
    the one installation row, or None (no table, no row, or null). ``column`` must be
    one of those two and exist."""
    if column not in ("installation_id", "sample_data"):
        raise ValueError(f"not a column to read: {column}")
    sql = f"SELECT {column} FROM installation WHERE id = 1"
    return _scalar(conn, sql, "installation", tables)


def proposals_per_definition(conn: Connection) -> dict[int, int]:
    """How many proposals run on each definition id (ids without any left out); the
    ``proposals`` table must exist."""
    return {
        int(r[0]): int(r[1])
        for r in conn.execute(
            text("SELECT definition_id, count(*) FROM proposals GROUP BY definition_id")
        )
    }


def _scalar(conn: Connection, sql: str, table: str, tables: set[str]) -> str | None:
    if table not in tables:
        return None
    found = conn.execute(text(sql)).scalar()
    return None if found is None else str(found)
