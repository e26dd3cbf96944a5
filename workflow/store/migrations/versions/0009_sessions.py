"""web_accounts.session_epoch: a password change or a disable ends the account's sessions

Revision ID: 0009_sessions
Revises: 0008_robust

A session cookie is signed, not stored: nothing on the server could end it before it
expired. Each account now counts its password changes and disables; a session carries the
count it began with, and ``identify()`` refuses it once the account's count has moved on,
in every app process at once (they all read the same row). API tokens do not look at it.

(Chained after 0008_robust, the head of main when this branch last merged it; branches that add
migrations in parallel are chained by the lead at merge time.)
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0009_sessions"
down_revision = "0008_robust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends (a constant default needs no table rebuild).
    op.add_column(
        "web_accounts",
        sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    # The accounts there are start at a random epoch, not at 0: after a downgrade and an
    # upgrade again, a cookie from before the downgrade does not match by chance. (Sessions
    # from before this migration carry no epoch at all and end once.)
    start = sa.table("web_accounts", sa.column("session_epoch", sa.Integer()))
    op.execute(start.update().values(session_epoch=secrets.randbelow(2**30) + 1))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a plain column in place (3.35 and newer). Batch mode would rebuild
        # web_accounts, and dropping the old table breaks the web_tokens' foreign key.
        op.execute("ALTER TABLE web_accounts DROP COLUMN session_epoch")
    else:
        op.drop_column("web_accounts", "session_epoch")
