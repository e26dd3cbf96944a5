"""outbox: notices store their template context and are rendered at delivery

Revision ID: 0004
Revises: 0003

A transition used to render its notices (Jinja, the ``termin.ics``) inside its own
transaction; now it stores the context (``outbox.context``) and the calendar entry
(``outbox.calendar``), and the delivery worker renders them. ``subject``, ``body_text``,
``body_html`` and ``attachments`` hold the mail as sent: filled at delivery, NULL before.
Rows written before this migration keep their bodies (and have no context); delivery sends
them as stored.

Downgrade: rows without bodies cannot go back to NOT NULL columns, so the downgrade refuses
while undelivered notices of the new form exist (deliver them first).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("context", _JSON, nullable=True))
        batch_op.add_column(sa.Column("calendar", _JSON, nullable=True))
        batch_op.alter_column("subject", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("attachments", existing_type=_JSON, nullable=True)


def downgrade() -> None:
    unsent = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM outbox WHERE body_text IS NULL"))
        .scalar_one()
    )
    if unsent:
        raise RuntimeError(
            f"{unsent} notice(s) have not been rendered yet (body_text is NULL);"
            " deliver them (ruhrflow notices send) before downgrading below 0004"
        )
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.alter_column("attachments", existing_type=_JSON, nullable=False)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("calendar")
        batch_op.drop_column("context")
