"""installation: a random id per database for Message-IDs and calendar UIDs; deadline series

Revision ID: 0007_install
Revises: 0005_web

Message-IDs derived only from the idempotency key, and calendar UIDs from the deadline's row
id, were the same in every database: mail systems dropped real mail as a duplicate of test
mail, calendars merged unrelated events. The one row of ``installation`` holds a random id,
made here, from which both now derive (``notifications/mail/addresses.py``).

``deadlines.series_id`` names the first deadline of a recurring series (the quarterly progress
report): all its periods are one calendar entry, whose SEQUENCE counts periods and moves
(``ruhrflow deadlines move``). NULL for a deadline that is its own series, as every deadline
before this migration is.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007_install"
down_revision = "0006_rights"
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

    with op.batch_alter_table("deadlines") as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a plain column in place (3.35 and newer). Batch mode would rebuild
        # the table, and dropping the old one breaks the deadline_rungs' foreign keys.
        op.execute("ALTER TABLE deadlines DROP COLUMN series_id")
    else:
        op.drop_column("deadlines", "series_id")
    op.drop_table("installation")
