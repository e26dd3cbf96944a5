"""PostgreSQL: two processes advancing disjoint proposals vs one process doing it all.

Same total number of single transitions (``report_progress`` self-loops, one transaction
each); throughput = transitions / wall time from the common start to the last finish.
Row locks are per proposal, so two writers must not serialise: target ≥ 1.5× the single
process's throughput. Runs on a scratch database created on the server named by
``RUHRFLOW_BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and dropped afterwards; skipped with a clear line when the server is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.support import (
    COORDINATOR,
    LEAD,
    LEAD_ACTOR,
    NOW,
    REPO,
    Result,
    bench_key,
    migrate,
    minutes,
    progress,
    scratch_dir,
    skipped,
)

SCENARIO = "PostgreSQL: 2 processes vs 1"
TARGET = 1.5
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PER_WORKER_PROPOSALS = 50


def server_url() -> str:
    return os.environ.get("RUHRFLOW_BENCH_POSTGRES_URL") or DEFAULT_URL


def reachable(admin_url: str) -> str | None:
    """None when the server answers, else why not (the line then says SKIP)."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text("select 1"))
        finally:
            admin.dispose()
    except Exception as exc:  # any failure to reach the server means: skip, clearly
        return f"PostgreSQL unreachable at {admin_url}: {type(exc).__name__}"
    return None


def worker() -> None:
    """Subprocess: ``python -c '…worker()' URL WORKDIR FIRST COUNT TRANSITIONS``."""
    from bench.support import child_profile, open_runtime_for

    url, workdir = sys.argv[1], Path(sys.argv[2])
    first, count, transitions = (int(a) for a in sys.argv[3:6])
    rt = open_runtime_for(url, workdir)
    keys = [bench_key(first + i) for i in range(count)]
    nows = list(minutes(transitions + 1))
    fields = {"progress": 30}
    rt.engine.advance(keys[0], "report_progress", actor=LEAD_ACTOR, now=nows[-1], fields=fields)
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    start = time.monotonic()
    with child_profile("postgres-worker"):
        for i in range(transitions):
            rt.engine.advance(
                keys[i % count], "report_progress", actor=LEAD_ACTOR, now=nows[i], fields=fields
            )
    end = time.monotonic()
    rt.close()
    print(json.dumps({"start": start, "end": end, "n": transitions}), flush=True)


def _populate(url: str, proposals: int) -> None:
    from sqlalchemy import insert, select

    from workflow.engine.chain import GENESIS, entry_hash
    from workflow.store import repo
    from workflow.store.db import Store
    from workflow.store.schema import definitions, history
    from workflow.store.schema import proposals as proposals_table

    store = Store.open(url)
    try:
        with store.write() as conn:
            definition_id = conn.execute(select(definitions.c.id)).scalar_one()
            ref = repo.create_actor_ref(conn, COORDINATOR, NOW)
            rows, entries = [], []
            for i in range(proposals):
                key = bench_key(i)
                entry: dict[str, Any] = {
                    "chain": key,
                    "seq": 1,
                    "kind": "created",
                    "trigger": "create",
                    "from_state": None,
                    "to_state": "implementation",
                    "actor_ref": ref,
                    "comment": None,
                    "data": {"key": key},
                    "at": NOW,
                    "prev_hash": GENESIS,
                }
                entry["hash"] = entry_hash(entry)
                entries.append(entry)
                rows.append(
                    {
                        "key": key,
                        "title": f"Bench-Vorhaben {i}",
                        "summary": "",
                        "handlungsfeld": 3,
                        "themenforum": 3,
                        "lead": LEAD,
                        "participating": [],
                        "cost_estimate": 1000000,
                        "state": "implementation",
                        "definition_id": definition_id,
                        "row_version": 1,
                        "state_entered_at": NOW,
                        "created_at": NOW,
                        "updated_at": NOW,
                        "data": {},
                        "history_seq": 1,
                        "history_head": entry["hash"],
                    }
                )
            conn.execute(insert(proposals_table), rows)
            conn.execute(insert(history), entries)
    finally:
        store.dispose()


def _run_workers(url: str, work: Path, parts: list[tuple[int, int, int]]) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    workers = [
        procs.spawn(
            [
                sys.executable,
                "-c",
                "from bench.postgres import worker; worker()",
                url,
                str(work),
                str(first),
                str(count),
                str(n),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for first, count, n in parts
    ]
    try:
        for p in workers:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a PostgreSQL bench worker failed to start")
        for p in workers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        for p in workers:
            out, _ = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError("a PostgreSQL bench worker failed")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in workers:
            procs.stop(p, timeout=5.0)
    total = sum(r["n"] for r in reports)
    elapsed = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return float(total / elapsed)


def run(quick: bool) -> list[Result]:
    transitions = 600 if quick else 4_000
    name = f"{SCENARIO} ({transitions:,} transitions)"
    admin_url = server_url()
    why = reachable(admin_url)
    if why is not None:
        return [skipped(name, why, TARGET, "min")]
    url = procs.create_database(admin_url)
    try:
        with scratch_dir() as work:
            progress(f"{SCENARIO}: migrating the scratch database")
            migrate(url)
            _populate(url, 2 * PER_WORKER_PROPOSALS)
            half = transitions // 2
            progress(f"{SCENARIO}: 1 process × {transitions:,}")
            one = _run_workers(url, work, [(0, 2 * PER_WORKER_PROPOSALS, transitions)])
            progress(f"{SCENARIO}: 2 processes × {half:,}")
            two = _run_workers(
                url,
                work,
                [
                    (0, PER_WORKER_PROPOSALS, half),
                    (PER_WORKER_PROPOSALS, PER_WORKER_PROPOSALS, half),
                ],
            )
    finally:
        procs.drop_database(url)
    return [
        Result(
            name,
            ours=two,
            baseline=one,
            unit="tx/s",
            target=TARGET,
            kind="min",
            ratio=two / one,
            note="throughput, 2 processes / 1 process; "
            f"{os.cpu_count()} cores shared with the server",
        ).settle()
    ]
