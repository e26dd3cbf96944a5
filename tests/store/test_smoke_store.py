"""A first end-to-end walk through the process, on both backends."""

from conftest import NOW
from support import add_proposal, walk_to

from workflow.engine.engine import Engine
from workflow.engine.records import history_of


def test_a_proposal_walks_the_whole_lifecycle(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "completed", NOW)
    with engine.store.read() as conn:
        entries = history_of(conn, key)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-1]["to_state"] == "completed"
