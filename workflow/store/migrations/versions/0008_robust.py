"""actor_refs.salt: the salt of the commitment that a new actor ref is (issue 18.5)

Revision ID: 0008_robust
Revises: 0005_web

A ref created from now on is ``HMAC-SHA-256(salt, actor id)`` cut to 32 hex digits, so the
hash chain, which covers the ref, covers a salted commitment to the actor: an export that
carries actor and salt proves who wrote each entry, and an erasure deletes salt and id
(the commitment stays, the person is gone). Refs created before keep their random 24
hex digits and no salt: their attribution cannot be proven, as before.

(Chained after 0005_web, the head of main when this branch merged it; branches that add
migrations in parallel are chained by the lead at merge time.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_robust"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actor_refs") as batch_op:
        batch_op.add_column(sa.Column("salt", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actor_refs") as batch_op:
        batch_op.drop_column("salt")
