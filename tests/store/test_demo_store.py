"""The demo's store functions: its reads, and commits without an fsync for its one run.

Given a fresh database (SQLite and PostgreSQL): ``commit_without_fsync`` makes every later
SQLite connection commit with ``synchronous=NORMAL`` (what the demo's eleven thousand commits
need: no wait for the disk), writes still commit, and ``checkpoint`` empties the write-ahead
log into the database file; on PostgreSQL both leave the server's settings alone.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound

from workflow.store import demo as demo_store
from workflow.store.db import Store
from workflow.store.installation import mark_sample_data

NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL


def test_commits_without_fsync_still_commit_and_the_checkpoint_syncs(store: Store) -> None:
    with store.read() as conn:
        before = conn.execute(text("SELECT 1")).scalar()
        assert demo_store.next_rung_at(conn) is None  # a fresh database: no deadline yet
        with pytest.raises(NoResultFound):
            demo_store.open_due_at(conn, "RK-03-01", "progress_report")
    assert before == 1
    demo_store.commit_without_fsync(store)
    with store.write() as conn:
        mark_sample_data(conn, "Beispieldaten (Test)")
    with store.read() as conn:
        if store.dialect == "sqlite":
            assert conn.execute(text("PRAGMA synchronous")).scalar() == NORMAL
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # the store's own
        else:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
        assert demo_store.proposals_per_state(conn) == {}
        assert demo_store.funding_of_year(conn, 2020) == 0
    demo_store.checkpoint(store)
    if store.dialect == "sqlite":
        with store.read() as conn:  # nothing left in the log after the checkpoint
            busy, log_frames, _ = conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        assert busy == 0 and log_frames == 0
    with store.write() as conn:  # and the store writes on afterwards
        mark_sample_data(conn, "Beispieldaten (Test, zweimal)")
    with store.read() as conn:
        assert demo_store.proposals_per_state(conn) == {}
