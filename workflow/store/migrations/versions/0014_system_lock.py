"""system_chain_lock: appends to @system queue on a row only writers can lock

Revision ID: 0014_system_lock
Revises: 0013_documents

Appends to the ``@system`` chain (checkpoints, verifications, a new installation id) were
serialised with a transaction-scoped advisory lock. Every login may take advisory locks: a
review's reading login held that one for as long as it liked and stalled every checkpoint,
``audit verify --record`` and ``init``. A row lock (``SELECT … FOR UPDATE``) needs the UPDATE
right on the table, which ``db grants`` gives to the service, the administrators and the
auditors only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_system_lock"
down_revision = "0013_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "system_chain_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_chain_lock")),
    )
    op.bulk_insert(table, [{"id": 1}])


def downgrade() -> None:
    op.drop_table("system_chain_lock")
