"""deadlines.proposal_key: the proposal's key on its deadlines, the worklist's order an index's

Revision ID: 0015_deadline_key
Revises: 0014_system_lock

The worklist (``/worklist``, ``ruhrflow deadlines``) lists open deadlines by due time and
proposal key, a page at a time. With the key only in ``proposals``, PostgreSQL had to join
every open deadline due at the first due time to its proposal and sort them before the
LIMIT: deadlines share due days, and with 1,000 due at once a page cost 1.2 ms of server
time. With the key copied into ``deadlines`` and the index on ``(status, due_at,
proposal_key)`` the index gives the order and the scan stops after the page (0.1 ms).

The new index replaces ``ix_deadlines_status_due_at``: every query that used that one
(the worklist, the digest, monitoring, reports, the sweep on PostgreSQL: open deadlines by
status and due time) uses the same two leading columns of the new one.

A proposal's key never changes once inserted: it names the proposal's history chain (no
code updates it; on PostgreSQL the trigger ``proposals_match_chain`` refuses a key whose
chain does not end in the row), so the copy cannot go stale. The backfill is one UPDATE on
both backends.

SQLite cannot make a column NOT NULL in place. Alembic's batch mode would copy the table,
drop it and rename the copy, but the drop orphans the rungs (``deadline_rungs``' foreign
key; migration 0007), and a rename does not count them found again. So the table is rebuilt
under its own name: copied into a temporary table, dropped, created and filled again, with
the foreign keys deferred to the commit (reinserting each deadline finds its rungs again;
an orphan still fails the commit). PostgreSQL sets NOT NULL in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_deadline_key"
down_revision = "0014_system_lock"
branch_labels = None
depends_on = None

_OLD_INDEX = ("ix_deadlines_status_due_at", ["status", "due_at"])
_NEW_INDEX = ("ix_deadlines_status_due_at_proposal_key", ["status", "due_at", "proposal_key"])
_BACKFILL = (
    "UPDATE deadlines SET proposal_key ="
    " (SELECT proposals.key FROM proposals WHERE proposals.id = deadlines.proposal_id)"
)
_HELD = "ruhrflow_deadlines_0015"


def upgrade() -> None:
    op.drop_index(_OLD_INDEX[0], table_name="deadlines")
    op.add_column("deadlines", sa.Column("proposal_key", sa.String(length=40), nullable=True))
    op.execute(_BACKFILL)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite()
    else:
        op.alter_column(
            "deadlines", "proposal_key", existing_type=sa.String(length=40), nullable=False
        )
    op.create_index(_NEW_INDEX[0], "deadlines", _NEW_INDEX[1])


def _rebuild_sqlite() -> None:
    """``deadlines`` again, ``proposal_key`` NOT NULL, rows, ids and indexes as before."""
    bind = op.get_bind()
    deferred = int(bind.exec_driver_sql("PRAGMA defer_foreign_keys").scalar_one())
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TEMP TABLE {_HELD} AS SELECT * FROM deadlines")
    op.drop_table("deadlines")  # and its indexes
    op.create_table(
        "deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("proposal_key", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_deadlines_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
    )
    columns = (
        "id, proposal_id, kind, state, entry_seq, due_at, status, sequence, created_at,"
        " closed_at, series_id, proposal_key"
    )
    op.execute(f"INSERT INTO deadlines ({columns}) SELECT {columns} FROM temp.{_HELD}")
    op.execute(f"DROP TABLE temp.{_HELD}")
    op.create_index("ix_deadlines_proposal_id_status", "deadlines", ["proposal_id", "status"])
    op.create_index(
        "ux_deadlines_proposal_id_kind_entry_seq",
        "deadlines",
        ["proposal_id", "kind", "entry_seq"],
        unique=True,
    )
    op.execute(f"PRAGMA defer_foreign_keys = {'ON' if deferred else 'OFF'}")


def downgrade() -> None:
    op.drop_index(_NEW_INDEX[0], table_name="deadlines")
    op.create_index(_OLD_INDEX[0], "deadlines", _OLD_INDEX[1])
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a plain column in place (3.35 and newer); batch mode would rebuild the
        # table, and dropping the old one breaks the deadline_rungs' foreign keys.
        op.execute("ALTER TABLE deadlines DROP COLUMN proposal_key")
    else:
        op.drop_column("deadlines", "proposal_key")
