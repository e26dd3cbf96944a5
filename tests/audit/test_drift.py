"""A proposal row that drifts from its chain, and recorded times that go backwards (#18).

Both on SQLite and PostgreSQL, as an attacker who owns the database and switches the
triggers off; ``audit verify`` must name the proposal, the seq and what is wrong. The
PostgreSQL writer role cannot do this at all (tests/test_rights.py).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import NOW
from sqlalchemy import select, text
from support import add_proposal, attacker, walk_to

from workflow.audit import verify_store
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.schema import history, proposals

KEY = "RK-03-01"


@pytest.fixture
def walked(engine: Engine) -> Engine:
    """RK-03-01 in the cabinet (seq 8: four statements on the way)."""
    add_proposal(engine, NOW, key=KEY)
    walk_to(engine, KEY, "cabinet", NOW)
    return engine


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("state = 'approved'", "the proposal is in state 'approved', but its history"),
        ("row_version = row_version + 1", "row version is 10, but its history has 9 entries"),
    ],
)
def test_a_proposal_row_changed_behind_ruhrflows_back_is_named(
    walked: Engine, database_url: str, change: str, problem: str
) -> None:
    # given a proposal row edited without a history entry
    with attacker(database_url) as conn:
        conn.execute(text(f"UPDATE proposals SET {change} WHERE key = :k"), {"k": KEY})
    # when the auditor verifies
    result = verify_store(walked.store, key=None)
    shown = CliRunner().invoke(cli, ["--db", database_url, "audit", "verify"])
    # then the proposal and its last seq are named, and the command exits 1
    assert result.broken is not None
    assert (result.broken.chain, result.broken.seq) == (KEY, 9)
    assert problem in result.broken.problem
    assert shown.exit_code == 1 and f"{KEY} seq 9" in shown.stderr


def test_a_recorded_time_that_goes_backwards_is_named(walked: Engine, database_url: str) -> None:
    # given every entry recorded by the database, one of them moved back before its predecessor
    with walked.store.read() as conn:
        recorded = conn.execute(
            select(history.c.recorded_at).where(history.c.chain == KEY).order_by(history.c.seq)
        ).scalars().all()  # fmt: skip
    assert all(at is not None for at in recorded)
    assert recorded == sorted(recorded)
    assert verify_store(walked.store, key=None).ok
    with attacker(database_url) as conn:
        earlier = recorded[3].replace(year=recorded[3].year - 1)
        conn.execute(
            history.update()
            .where(history.c.chain == KEY, history.c.seq == 5)
            .values(recorded_at=earlier)
        )
    # when verified, then that entry is named though its hash still matches
    result = verify_store(walked.store, key=None)
    assert result.broken is not None
    assert (result.broken.chain, result.broken.seq) == (KEY, 5)
    assert "before seq 4" in result.broken.problem and "out of order" in result.broken.problem


def test_entries_without_a_recorded_time_are_not_a_break(walked: Engine, database_url: str) -> None:
    # given a chain written before migration 0006 (recorded_at unknown) and continued after it
    with attacker(database_url) as conn:
        conn.execute(text("UPDATE history SET recorded_at = NULL WHERE seq <= 4"))
    # then it verifies
    assert verify_store(walked.store, key=None).ok
    with walked.store.read() as conn:
        assert conn.execute(select(proposals.c.state)).scalar_one() == "cabinet"
