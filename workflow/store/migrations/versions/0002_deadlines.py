"""deadlines: unique rungs and deadlines, cancelled rungs

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_DUE = "fired_at IS NULL"
_NEW_DUE = "fired_at IS NULL AND cancelled_at IS NULL"


def upgrade() -> None:
    op.add_column("deadline_rungs", sa.Column("cancelled_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ux_deadline_rungs_deadline_id_rung", "deadline_rungs", ["deadline_id", "rung"], unique=True
    )
    op.drop_index("ix_deadline_rungs_due", table_name="deadline_rungs")
    op.create_index(
        "ix_deadline_rungs_due",
        "deadline_rungs",
        ["fire_at"],
        sqlite_where=sa.text(_NEW_DUE),
        postgresql_where=sa.text(_NEW_DUE),
    )
    op.create_index(
        "ux_deadlines_proposal_id_kind_entry_seq",
        "deadlines",
        ["proposal_id", "kind", "entry_seq"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_deadlines_proposal_id_kind_entry_seq", table_name="deadlines")
    op.drop_index("ix_deadline_rungs_due", table_name="deadline_rungs")
    op.create_index(
        "ix_deadline_rungs_due",
        "deadline_rungs",
        ["fire_at"],
        sqlite_where=sa.text(_OLD_DUE),
        postgresql_where=sa.text(_OLD_DUE),
    )
    op.drop_index("ux_deadline_rungs_deadline_id_rung", table_name="deadline_rungs")
    with op.batch_alter_table("deadline_rungs") as batch_op:
        batch_op.drop_column("cancelled_at")
