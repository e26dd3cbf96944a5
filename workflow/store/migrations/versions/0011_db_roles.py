"""db_roles: the names of this database's PostgreSQL group roles, and which grants it has

Revision ID: 0011_db_roles
Revises: 0010_sample_data

Roles are cluster-wide: the group roles ``ruhrflow_writer``/``_auditor``/``_admin`` of
releases 0.1.0 and 0.2.0 gave a login of one database the same rights in every other
ruhrflow database of the cluster. From 0.3.0 each database has its own group roles,
``<prefix>_reader``, ``_auditor``, ``_service`` and ``_admin``; the one row of ``db_roles``
holds the prefix and the database it was made for (``current_database()``), so that a copy
made with ``CREATE DATABASE … TEMPLATE`` is recognised and gets roles of its own on its
next ``ruhrflow db grants --apply`` (:mod:`workflow.access.grants`). That command also
records which version of the grants it applied, at which schema revision, so ``ruhrflow db
status`` can say whether the grants match the code.

PostgreSQL: the row is made here, the prefix from the database's name and a random suffix
(checked against the roles that exist). SQLite has no roles: the table stays empty there.
"""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0011_db_roles"
down_revision = "0010_sample_data"
branch_labels = None
depends_on = None


def _prefix(database: str, taken: set[str]) -> str:
    """``rf_<database, 24 characters of [a-z0-9_]>_<4 hex digits>``, not yet used."""
    stem = re.sub(r"[^a-z0-9_]", "_", database.lower())[:24]
    while True:
        prefix = f"rf_{stem}_{secrets.token_hex(2)}"
        if prefix not in taken:
            return prefix


def upgrade() -> None:
    table = op.create_table(
        "db_roles",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("prefix", sa.String(length=40), nullable=False),
        sa.Column("database", sa.String(length=63), nullable=False),
        sa.Column("grants_version", sa.String(length=20), nullable=True),
        sa.Column("grants_revision", sa.String(length=64), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(length=63), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_db_roles")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
    taken = {
        row[0].rsplit("_", 1)[0]
        for row in bind.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'rf\\_%'"))
    }
    op.bulk_insert(table, [{"id": 1, "prefix": _prefix(database, taken), "database": database}])


def downgrade() -> None:
    op.drop_table("db_roles")
