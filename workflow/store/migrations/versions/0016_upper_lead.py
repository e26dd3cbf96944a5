"""ix_proposals_upper_lead: PostgreSQL's statistics of upper(lead), a ministry's worklist

Revision ID: 0016_upper_lead
Revises: 0015_deadline_key

A ministry's worklist (``/worklist`` as a ministry, ``ruhrflow deadlines --lead``) keeps the
proposals whose ``upper(lead)`` is the ministry's code (``lead`` in any case). PostgreSQL
keeps no statistics of an expression unless an index or extended statistics name it, so it
took the condition to keep 0.5 % of the proposals, started from a sequential scan of them,
looked up every one's deadline and sorted them all before the LIMIT: 50 ms of server time
for a page at 20,000 proposals of one ministry, 14 ms for a ministry with 30 % of them. With
the statistics it walks ``ix_deadlines_status_due_at_proposal_key`` in order and stops at
the page (0.08 ms, 0.2 ms), and for a ministry with few proposals it finds them through this
index instead of reading every proposal.

An expression index rather than ``CREATE STATISTICS … ON (upper(lead))``: PostgreSQL
collects the statistics of an index's expression at every ANALYZE (autovacuum's too, as the
table changes) on every version, where statistics on an expression need PostgreSQL 14; and
the index also serves the ministries with few proposals, for which the statistics alone made
PostgreSQL read every proposal and every open deadline (5 ms -> 12 ms at 1 % of 20,000).
The lead stays as written: it is the directory's code, compared exactly elsewhere
(``proposal list --lead``) and part of the history.

A new index has no statistics until the table is analysed, and autovacuum analyses
``proposals`` only after a tenth of it changed: the migration analyses it (a sample of at
most 30,000 rows: milliseconds; it takes no lock that blocks reads or writes).

PostgreSQL only: SQLite keeps no statistics of the values' spread in an index (without
``sqlite_stat4``) and keeps walking the deadlines in due order whether or not the index
exists, analysed or not; it would only cost every write of a proposal.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_upper_lead"
down_revision = "0015_deadline_key"
branch_labels = None
depends_on = None

INDEX = "ix_proposals_upper_lead"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(INDEX, "proposals", [sa.text("upper(lead)")])
    op.execute("ANALYZE proposals")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="proposals")
