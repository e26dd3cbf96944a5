"""installation: a random id per database for Message-IDs and calendar UIDs

Revision ID: 0007_install
Revises: 0004

Message-IDs derived only from the idempotency key, and calendar UIDs from the deadline's row
id, were the same in every database: mail systems dropped real mail as a duplicate of test
mail, calendars merged unrelated events. The one row of ``installation`` holds a random id,
made here, from which both now derive (``notifications/addresses.py``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007_install"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "installation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("installation_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    # SQLite stores naive UTC (workflow.store.schema.UTCDateTime); PostgreSQL timestamptz.
    now = datetime.now(UTC)
    created = now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now
    op.bulk_insert(
        table, [{"id": 1, "installation_id": secrets.token_hex(16), "created_at": created}]
    )


def downgrade() -> None:
    op.drop_table("installation")
