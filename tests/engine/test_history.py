"""History and actor refs: one writer, one transaction rule."""

from __future__ import annotations

import pytest
from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal

from workflow.engine.engine import Engine
from workflow.errors import PermissionDenied
from workflow.store.schema import actor_refs


def _refs_of(engine: Engine, actor_id: str) -> int:
    with engine.store.read() as conn:
        stmt = select(func.count()).where(actor_refs.c.actor_id == actor_id)
        return int(conn.execute(stmt).scalar_one())


def test_a_refused_action_leaves_no_actor_ref_behind(engine: Engine) -> None:
    # given a proposal, and the auditor who has never acted
    key = add_proposal(engine, NOW)
    assert _refs_of(engine, "pruefung") == 0
    # when the auditor tries a transition that is not theirs
    with pytest.raises(PermissionDenied):
        engine.advance(key, "submit", actor="pruefung", now=NOW)
    # then no ref was committed for the auditor: the refusal rolled everything back
    assert _refs_of(engine, "pruefung") == 0


def test_an_accepted_action_commits_one_ref_and_reuses_it(engine: Engine) -> None:
    # given two proposals submitted by the same coordinator
    first, second = add_proposal(engine, NOW), add_proposal(engine, NOW)
    engine.advance(first, "submit", actor="koordination", now=NOW)
    engine.advance(second, "submit", actor="koordination", now=NOW)
    # then the coordinator has exactly one ref
    assert _refs_of(engine, "koordination") == 1
