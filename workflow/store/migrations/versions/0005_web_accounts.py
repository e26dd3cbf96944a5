"""web application: local accounts, API tokens, login throttling, session secret

Revision ID: 0005_web
Revises: 0004

Accounts are bound to directory actors (``web_accounts.actor_id``); passwords are argon2id
hashes, API tokens are kept as SHA-256 digests only. Failed logins are counted per user
name in the database so that every app process sees them. ``ix_proposals_state_key`` lets the
web list a state's proposals page by page in key order without sorting them all.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_web"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_proposals_state_key", "proposals", ["state", "key"])
    op.create_table(
        "web_accounts",
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("last_login_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("actor_id", name=op.f("pk_web_accounts")),
    )
    op.create_table(
        "web_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["web_accounts.actor_id"],
            name=op.f("fk_web_tokens_actor_id_web_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_tokens_token_hash")),
    )
    op.create_index(op.f("ix_web_tokens_actor_id"), "web_tokens", ["actor_id"])
    op.create_table(
        "web_login_throttle",
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_web_login_throttle")),
    )
    op.create_table(
        "web_secrets",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_web_secrets")),
    )


def downgrade() -> None:
    op.drop_table("web_secrets")
    op.drop_table("web_login_throttle")
    op.drop_index(op.f("ix_web_tokens_actor_id"), table_name="web_tokens")
    op.drop_table("web_tokens")
    op.drop_table("web_accounts")
    op.drop_index("ix_proposals_state_key", table_name="proposals")
