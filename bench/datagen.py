"""Large data sets for the tick, verify and memory scenarios (fast, not timed).

Everything goes into a database migrated by ``workflow.app.bootstrap.initialise`` through plain
``sqlite3`` ``executemany``; hashes are real, so the engine (and ``audit verify``) sees
rows it could have written itself.
"""

from __future__ import annotations

import atexit
import shutil
from datetime import timedelta
from pathlib import Path

from bench.support import (
    HISTORY_INSERT,
    NOW,
    Population,
    actor_ref,
    bench_key,
    canonical_json,
    connect_raw,
    copy_database,
    make_scratch_dir,
    prepared_database,
    progress,
    sqlite_time,
)

# Generated once per run, copied for each use: the tick and the memory scenario need the
# same tables (generating 1,000,000 proposals takes over a minute; a copy a second).
_RUN_CACHE: dict[tuple[str, int, int], Path] = {}
_RUN_DIR: list[Path] = []


def _run_dir() -> Path:
    if not _RUN_DIR:
        _RUN_DIR.append(make_scratch_dir("ruhrflow-bench-data-"))
        atexit.register(shutil.rmtree, _RUN_DIR[0], True)
    return _RUN_DIR[0]


def proposals_with_deadlines(workdir: Path, name: str, proposals: int, due: int) -> Path:
    """``proposals`` in ``implementation``, each with the open ``progress_report`` deadline
    the deadline effect creates on entering that state (entry seq 1, period 0) and its two
    rungs ``remind-7d`` and ``escalate-5wd`` (names as in the shipped definition, unique
    per deadline as migration 0002 demands); exactly ``due`` rungs (the reminders of the
    first proposals) are due at ``NOW``, every other rung lies in the future.

    A fresh copy in ``workdir`` each call; the data is generated once per run.
    """
    slot = ("deadlines", proposals, due)
    if slot not in _RUN_CACHE:
        _RUN_CACHE[slot] = _generate_with_deadlines(
            _run_dir(), f"d{proposals}-{due}", proposals, due
        )
    else:
        progress(f"datagen: {proposals:,} proposals with deadlines (generated before, copied)")
    return copy_database(_RUN_CACHE[slot], workdir / f"{name}.db")


def _generate_with_deadlines(workdir: Path, name: str, proposals: int, due: int) -> Path:
    path = prepared_database(workdir, name, [Population(proposals, lambda i: "implementation")])
    progress(f"datagen: {proposals:,} deadlines, {2 * proposals:,} rungs ({due:,} due)")
    conn = connect_raw(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    created = sqlite_time(NOW - timedelta(days=80))
    deadline_rows: list[tuple[object, ...]] = []
    rung_rows: list[tuple[object, ...]] = []
    keys = dict(conn.execute("SELECT id, key FROM proposals"))  # each deadline copies its key

    def flush() -> None:
        conn.executemany(
            "INSERT INTO deadlines (id, proposal_id, proposal_key, kind, state, entry_seq,"
            " due_at, status, sequence, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            deadline_rows,
        )
        conn.executemany(
            "INSERT INTO deadline_rungs (id, deadline_id, rung, fire_at, fired_at, late)"
            " VALUES (?,?,?,?,?,?)",
            rung_rows,
        )
        deadline_rows.clear()
        rung_rows.clear()

    for i in range(proposals):
        pid = did = i + 1
        # the first ``due`` reminders were due an hour ago; the others fire in 30–80 days
        remind_at = NOW - timedelta(hours=1) if i < due else NOW + timedelta(days=30 + i % 50)
        due_at = remind_at + timedelta(days=7)
        escalate_at = due_at + timedelta(days=7)  # 5 working days
        deadline_rows.append(
            (did, pid, keys[pid], "progress_report", "implementation", 1, sqlite_time(due_at),
             "open", 0, created)
        )  # fmt: skip
        rung_rows.append((2 * did - 1, did, "remind-7d", sqlite_time(remind_at), None, 0))
        rung_rows.append((2 * did, did, "escalate-5wd", sqlite_time(escalate_at), None, 0))
        if len(rung_rows) >= 100_000:
            flush()
    flush()
    conn.execute("COMMIT")
    conn.close()
    return path


def long_history(workdir: Path, name: str, rows: int, per_chain: int = 10) -> Path:
    """``rows`` history rows in valid chains of ``per_chain`` entries (one per proposal)."""
    from workflow.engine.chain import entry_hash

    chains = max(rows // per_chain, 1)
    path = prepared_database(workdir, name, [Population(chains, lambda i: "implementation")])
    progress(f"datagen: {chains:,} chains × {per_chain} = {chains * per_chain:,} history rows")
    conn = connect_raw(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    ref = actor_ref(conn, "im")
    heads = dict(conn.execute("SELECT key, history_head FROM proposals"))
    batch: list[tuple[object, ...]] = []
    updates = []
    for c in range(chains):
        key = bench_key(c)
        head = heads[key]
        for seq in range(2, per_chain + 1):
            at = NOW + timedelta(days=seq, seconds=c)
            entry = {
                "chain": key,
                "seq": seq,
                "kind": "transition",
                "trigger": "report_progress",
                "from_state": "implementation",
                "to_state": "implementation",
                "actor_ref": ref,
                "comment": None,
                "data": {"fields": {"progress": seq * 10}},
                "at": at,
                "prev_hash": head,
            }
            digest = entry_hash(entry)
            batch.append(
                (
                    key,
                    seq,
                    "transition",
                    "report_progress",
                    "implementation",
                    "implementation",
                    ref,
                    None,
                    canonical_json(entry["data"]),
                    sqlite_time(at),
                    head,
                    digest,
                )
            )
            head = digest
        updates.append((per_chain, head, per_chain, key))
        if len(batch) >= 50_000:
            conn.executemany(HISTORY_INSERT, batch)
            batch.clear()
    conn.executemany(HISTORY_INSERT, batch)
    conn.executemany(
        "UPDATE proposals SET history_seq = ?, history_head = ?, row_version = ? WHERE key = ?",
        updates,
    )
    conn.execute("COMMIT")
    conn.close()
    return path


def mixed_states(workdir: Path, name: str, proposals: int, in_state: int, state: str) -> Path:
    """``proposals`` proposals of which ``in_state`` are in ``state``, the rest elsewhere."""
    others = ("idea", "proposed", "consultation", "ministry_review", "implementation", "completed")

    def state_of(i: int) -> str:
        return state if i < in_state else others[i % len(others)]

    return prepared_database(workdir, name, [Population(proposals, state_of)])
