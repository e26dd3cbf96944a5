"""installation.sample_data: a database of sample data says so, on every page that shows it

Revision ID: 0010_sample_data
Revises: 0009_sessions

``ruhrflow demo`` plays the 2019 round with real titles and invented outcomes: which project
reached which state, and when, is illustrative. A board published from such a database, or
the web application running on it, looked like the real Sachstand. The column holds, for a
database of sample data, where the data comes from (German, shown as is); NULL otherwise.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_sample_data"
down_revision = "0009_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("installation", sa.Column("sample_data", sa.Text(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a plain column in place (3.35 and newer), without a table rebuild.
        op.execute("ALTER TABLE installation DROP COLUMN sample_data")
    else:
        op.drop_column("installation", "sample_data")
