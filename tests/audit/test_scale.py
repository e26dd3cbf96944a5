"""Verification under load: concurrent writers leave every chain valid; large histories stream."""

from __future__ import annotations

import threading
import tracemalloc
from datetime import timedelta
from typing import Any

from conftest import NOW
from sqlalchemy import insert, select
from support import add_proposal, walk_to

from workflow.app.runtime import open_runtime
from workflow.app.settings import Settings
from workflow.audit import take_checkpoint, verify_store
from workflow.audit.walker import BATCH
from workflow.engine.chain import GENESIS, entry_hash
from workflow.engine.engine import Engine
from workflow.store.schema import history, proposals

THREADS = 4
ADVANCES = 20  # per thread: 8 transitions to implementation, then progress reports


def test_concurrent_transitions_leave_every_chain_valid(engine: Engine, settings: Settings) -> None:
    # given four proposals, each advanced by its own thread with its own engine and pool
    keys = [add_proposal(engine, NOW, key=f"RK-03-{i:02d}") for i in range(1, THREADS + 1)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS + 1)

    def advance_one(key: str) -> None:
        rt = open_runtime(settings)
        try:
            start.wait()
            now = walk_to(rt.engine, key, "implementation", NOW)
            for i in range(ADVANCES - 8):
                now += timedelta(minutes=1)
                rt.engine.advance(key, "report_progress", actor="im", now=now,
                                  fields={"progress": i})  # fmt: skip
        except BaseException as exc:
            errors.append(exc)
        finally:
            rt.close()

    def checkpoints() -> None:  # the system chain is appended to at the same time
        rt = open_runtime(settings)
        try:
            start.wait()
            for i in range(5):
                take_checkpoint(rt.store, audit_key=None, actor_id="pruefung",
                                now=NOW + timedelta(seconds=i))  # fmt: skip
        except BaseException as exc:
            errors.append(exc)
        finally:
            rt.close()

    threads = [threading.Thread(target=advance_one, args=(k,)) for k in keys]
    threads.append(threading.Thread(target=checkpoints))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # then every chain verifies, with every advance in it
    result = verify_store(engine.store, key=None)
    assert result.ok, result.broken
    with engine.store.read() as conn:
        heads = dict(conn.execute(select(proposals.c.key, proposals.c.history_seq)).all())
    # created + 20 advances + 4 statements + 1 funding line
    assert heads == {k: 1 + ADVANCES + 5 for k in keys}
    assert result.chains == THREADS + 1
    assert result.entries == THREADS * (1 + ADVANCES + 5) + 5


def _insert_large_history(engine: Engine, chains: int, per_chain: int) -> None:
    """Insert chains × per_chain valid entries directly (fast, one executemany per chain)."""
    with engine.store.write() as conn:
        definition_id = conn.execute(select(proposals.c.definition_id).limit(1)).scalar()
        ref = conn.execute(select(history.c.actor_ref).limit(1)).scalar()
        comment = "Sitzungsprotokoll " * 20  # ~360 bytes: a full load would show in memory
        for c in range(chains):
            key = f"RK-09-{c:04d}"
            prev, rows = GENESIS, []
            for seq in range(1, per_chain + 1):
                entry: dict[str, Any] = {
                    "chain": key, "seq": seq, "kind": "transition", "trigger": "report_progress",
                    "from_state": "implementation", "to_state": "implementation",
                    "actor_ref": ref, "comment": comment, "data": {"fields": {"progress": seq}},
                    "at": NOW + timedelta(minutes=seq), "prev_hash": prev,
                }  # fmt: skip
                entry["hash"] = prev = entry_hash(entry)
                rows.append(entry)
            conn.execute(insert(history), rows)
            conn.execute(
                insert(proposals).values(
                    key=key, title="Last", handlungsfeld=2, themenforum=9, lead="MWIDE",
                    participating=[], state="implementation", definition_id=definition_id,
                    row_version=per_chain, state_entered_at=NOW, created_at=NOW,
                    updated_at=NOW, data={}, history_seq=per_chain, history_head=prev,
                )
            )  # fmt: skip


def test_a_large_history_verifies_streaming(engine: Engine, database_url: str) -> None:
    # given 20,000 entries (plus one real proposal so there is a definition and an actor)
    add_proposal(engine, NOW)
    _insert_large_history(engine, chains=100, per_chain=200)
    # when it is verified, watching Python's memory
    tracemalloc.start()
    try:
        result = verify_store(engine.store, key=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then every entry was checked, and memory stayed near one batch, not the history
    assert result.ok, result.broken
    assert result.entries == 20_001
    # (a batch peaks at ~4 MB; the 20,000 rows held at once would take well over 25 MB)
    assert peak < 10_000_000, f"peak {peak} bytes: the rows were not streamed"
    assert BATCH < 20_000
