"""Every proposal's place for the weekly digest (workflow/store/digest.py) streams.

Given a database of many proposals, when the digest reads the places and takes the first,
then SQLite has stepped through a chunk of them, not all (its progress handler counts the
virtual machine's instructions); and the places read one by one are exactly those of the
whole select, by key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, select
from support import add_proposal

from workflow.app.runtime import Runtime
from workflow.store import digest as digest_store
from workflow.store.schema import definitions, metadata, proposals

N = 4 * digest_store.CHUNK
NOW = datetime(2019, 7, 1, tzinfo=UTC)


def test_the_places_of_every_proposal_stream_in_chunks() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(definitions),
            {"id": 1, "name": "rk", "version": 1, "content_hash": "0" * 64, "source": "",
             "registered_at": NOW},
        )  # fmt: skip
        conn.execute(insert(proposals), [_proposal(i) for i in reversed(range(N))])
    with engine.connect() as conn:
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0

        driver = conn.connection.driver_connection
        assert driver is not None
        driver.set_progress_handler(step, 100)
        places = digest_store.proposal_places(conn)
        first = next(places)
        after_first = steps
        rest = list(places)
        driver.set_progress_handler(None, 100)
        every = [
            dict(r)
            for r in conn.execute(
                select(
                    proposals.c.key, proposals.c.title, proposals.c.lead, proposals.c.state,
                    proposals.c.definition_id,
                ).order_by(proposals.c.key)
            ).mappings()
        ]  # fmt: skip

    assert [first, *rest] == every and len(every) == N
    assert after_first * 3 < steps  # a chunk of the four read, not all


def _proposal(i: int) -> dict[str, object]:
    return {
        "key": f"RK-{i:05d}", "title": f"Vorschlag {i}", "summary": "", "handlungsfeld": 1,
        "themenforum": 1 + i % 20, "lead": f"MIN{i % 7}", "participating": [],
        "state": ("submitted", "approved")[i % 2], "definition_id": 1, "row_version": 1,
        "state_entered_at": NOW, "created_at": NOW, "updated_at": NOW, "data": {},
        "history_seq": 0, "history_head": "0" * 64,
    }  # fmt: skip


def test_the_places_stream_while_the_caller_reads_on_the_same_connection(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the digest reads a definition per place meanwhile (on both backends; one row a chunk)
    monkeypatch.setattr(digest_store, "CHUNK", 1)
    keys = [add_proposal(runtime.engine, NOW, key=f"RK-03-0{i}") for i in (1, 2, 3)]
    with runtime.store.read() as conn:
        read = []
        for place in digest_store.proposal_places(conn):
            read.append(place["key"])
            list(digest_store.deadlines_due_between(conn, NOW, NOW + timedelta(days=9)))
            digest_store.transitions_between(conn, NOW, NOW + timedelta(days=1))
    assert read == sorted(keys)
