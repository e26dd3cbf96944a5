"""The worklist's order without ties; a ministry's proposals by upper(lead) and by key

Revision ID: 0017_worklist_order
Revises: 0016_upper_lead

The worklist pages open deadlines by due time and proposal key (``LIMIT``/``OFFSET``). One
proposal's two deadlines due at the same moment tied, and their order was the plan's: a
sort (PostgreSQL's for a ministry's page) may put them either way round on each page, so one
showed on two pages and the other on none. The order ends in the deadline's id now, and
``ix_deadlines_status_due_at_proposal_key_id`` replaces 0015's index so that the scan still
stops after the page (SQLite's index entries end in the row id anyway; one index on both
backends).

SQLite gets an index on ``(upper(lead), lead)``: it counts a ministry's proposals there
(the lead beside the expression, so that SQLite 3.40 counts on the index alone), and a
ministry with few of them has its worklist read from its proposals instead of walking every
open deadline in due order (``workflow/store/worklist.py``). PostgreSQL keeps 0016's index on
``upper(lead)``: its planner chooses by the statistics.

``ix_proposals_lead_key`` replaces the index on ``lead`` alone: ``proposal list --lead``
(the lead as written) reads the ministry's proposals in key order without sorting them.

Plain CREATE and DROP INDEX on both backends: no table is rebuilt (on SQLite a rebuild
would orphan the rungs' foreign keys, see 0015).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_worklist_order"
down_revision = "0016_upper_lead"
branch_labels = None
depends_on = None

_DUE_OLD = ("ix_deadlines_status_due_at_proposal_key", ["status", "due_at", "proposal_key"])
_DUE_NEW = (
    "ix_deadlines_status_due_at_proposal_key_id",
    ["status", "due_at", "proposal_key", "id"],
)
_LEAD_OLD = ("ix_proposals_lead", ["lead"])
_LEAD_NEW = ("ix_proposals_lead_key", ["lead", "key"])
_UPPER_LEAD = "ix_proposals_upper_lead_lead"  # SQLite's; PostgreSQL's is 0016's


def upgrade() -> None:
    op.create_index(_DUE_NEW[0], "deadlines", _DUE_NEW[1])
    op.drop_index(_DUE_OLD[0], table_name="deadlines")
    op.create_index(_LEAD_NEW[0], "proposals", _LEAD_NEW[1])
    op.drop_index(_LEAD_OLD[0], table_name="proposals")
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(_UPPER_LEAD, "proposals", [sa.text("upper(lead)"), "lead"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(_UPPER_LEAD, table_name="proposals")
    op.create_index(_LEAD_OLD[0], "proposals", _LEAD_OLD[1])
    op.drop_index(_LEAD_NEW[0], table_name="proposals")
    op.create_index(_DUE_OLD[0], "deadlines", _DUE_OLD[1])
    op.drop_index(_DUE_NEW[0], table_name="deadlines")
