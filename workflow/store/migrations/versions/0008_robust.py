"""actor_refs.salt: the salt of the commitment that a new actor ref is (issue 18.5)

Revision ID: 0008_robust
Revises: 0007_install

A ref created from now on is ``HMAC-SHA-256(salt, actor id)`` cut to 32 hex digits, so the
hash chain, which covers the ref, covers a salted commitment to the actor: an export that
carries actor and salt proves who wrote each entry, and an erasure deletes salt and id
(the commitment stays, the person is gone). Refs created before keep their random 24
hex digits and no salt: their attribution cannot be proven, as before.

(Chained after 0007_install, the head of main when this branch last merged it; branches that add
migrations in parallel are chained by the lead at merge time.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_robust"
down_revision = "0007_install"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: a batch would copy actor_refs on SQLite and lose the
# trigger of migration 0006 that keeps refs from being re-attributed.


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("actor_refs")}
    if "salt" not in columns:  # a downgrade leaves it in place (see there)
        op.add_column("actor_refs", sa.Column("salt", sa.String(32), nullable=True))


def downgrade() -> None:
    # The column stays: dropping it would destroy the proofs of attribution of every ref
    # made since (a committed ref without its salt proves nobody, and verify says so).
    # Code before this revision names its columns and ignores it; upgrading again finds it.
    pass
