"""web_sessions and web_login_failures: a logout ends the session; failures count per address

Revision ID: 0012_web_sessions
Revises: 0011_db_roles

A session cookie was signed, not stored: after a logout a copied cookie kept working for the
whole ``session_hours``. Each login now makes a row in ``web_sessions`` (the SHA-256 of a
random session id the cookie carries, the account's session epoch at login, when it expires
and when it ended); every request looks it up, so a logout, a password change or a disable
ends the session in every app process at once.

Failed password logins were counted per user name only: anyone could keep a named account
locked with five wrong passwords every 15 minutes. ``web_login_failures`` counts them per
user name *and* client address. ``web_login_throttle`` is left in place, no longer written
(older releases read it; it holds nothing that must survive).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_web_sessions"
down_revision = "0011_db_roles"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["web_accounts.actor_id"],
            name=op.f("fk_web_sessions_actor_id_web_accounts"),
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_actor_id"), "web_sessions", ["actor_id"])
    op.create_table(
        "web_login_failures",
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name=op.f("pk_web_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("web_login_failures")
    op.drop_index(op.f("ix_web_sessions_actor_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
