"""PostgreSQL: 2 and 4 processes advancing disjoint proposals vs one process doing it all.

Same total number of single transitions (``report_progress`` self-loops, one transaction
each); throughput = transitions / wall time from the common start to the last finish.
Row locks are per proposal, so the writers must not serialise: target ≥ 1.5× the single
process's throughput with 2 processes, ≥ 2× with 4 (issue 29). Each line names its limit:
the run measures the CPU time per transition of the workers (``process_time``) and of their
PostgreSQL backends (psutil, via ``pg_stat_activity``), and the latency of a bare
INSERT+COMMIT. On ``cores`` cores, N processes can be at most ``cores × wall / CPU`` times
faster than one (the CPU ceiling); when that is below N, the cores are the limit, else
the waiting (commit flush, round trips, locks). Runs on a scratch database created on the
server named by ``RUHRFLOW_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and dropped afterwards; skipped with
a clear line when the server is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
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

SCENARIO = "PostgreSQL: N processes vs 1"
TARGETS = {2: 1.5, 4: 2.0}  # processes -> the throughput ratio over one process they must reach
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
    """Subprocess: ``python -c '…worker()' URL WORKDIR FIRST COUNT TRANSITIONS``.

    Prints "ready" after a warm-up transition, waits for "go", runs, prints its JSON report
    and keeps its connections open until "bye" (so that the parent can read the CPU time of
    their server processes).
    """
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
    cpu = time.process_time()
    start = time.monotonic()
    with child_profile("postgres-worker"):
        for i in range(transitions):
            rt.engine.advance(
                keys[i % count], "report_progress", actor=LEAD_ACTOR, now=nows[i], fields=fields
            )
    end = time.monotonic()
    cpu = time.process_time() - cpu
    report = {"start": start, "end": end, "n": transitions, "cpu": cpu}
    print(json.dumps(report), flush=True)
    sys.stdin.readline()  # "bye"
    rt.close()


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


@dataclass
class Run:
    """What one run of ``processes`` workers did."""

    processes: int
    throughput: float  # transitions per second, common start to last finish
    seconds: float
    transitions: int
    worker_cpu: float  # user+sys of the workers' timed loops
    server_cpu: float | None  # user+sys of their PostgreSQL backends (None without psutil)
    machine_cpu: float | None  # user+sys of the whole machine meanwhile (None without psutil)

    def per_transition(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / self.transitions * 1e3:.2f} ms"


def _backend_cpu(admin_url: str, database: str) -> dict[int, float]:
    """user+sys seconds of every server process connected to ``database`` (needs psutil and
    the server on this machine; empty otherwise)."""
    try:
        import psutil
    except ImportError:
        return {}
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
            ).scalars()
            found = {}
            for pid in pids:
                try:
                    times = psutil.Process(pid).cpu_times()
                except psutil.Error:
                    continue
                found[pid] = times.user + times.system
            return found
    finally:
        admin.dispose()


def _machine_cpu() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    times = psutil.cpu_times()
    return float(times.user + times.system + getattr(times, "nice", 0.0))


def _run_workers(url: str, work: Path, parts: list[tuple[int, int, int]]) -> Run:
    from sqlalchemy.engine import make_url

    env = dict(os.environ, PYTHONPATH=str(REPO))
    database = make_url(url).database or ""
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
        progress(f"PostgreSQL: {len(workers)} workers ready")
        backends = _backend_cpu(server_url(), database)
        machine = _machine_cpu()
        for p in workers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        for p in workers:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("a PostgreSQL bench worker failed")
            reports.append(json.loads(line))
        progress(f"PostgreSQL: {len(workers)} workers done")
        machine_after = _machine_cpu()
        after = _backend_cpu(server_url(), database)
        for p in workers:
            assert p.stdin is not None
            p.stdin.write("bye\n")
            p.stdin.flush()
        for p in workers:
            p.wait(timeout=120)
            if p.returncode != 0:
                raise RuntimeError("a PostgreSQL bench worker failed")
    finally:
        for p in workers:
            procs.stop(p, timeout=5.0)
    total = sum(r["n"] for r in reports)
    elapsed = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    server = sum(after[pid] - backends.get(pid, 0.0) for pid in after) if after else None
    return Run(
        processes=len(parts),
        throughput=total / elapsed,
        seconds=elapsed,
        transitions=total,
        worker_cpu=sum(r["cpu"] for r in reports),
        server_cpu=server,
        machine_cpu=None if machine is None or machine_after is None else machine_after - machine,
    )


def commit_latency(url: str, rounds: int = 200) -> float:
    """The median time of the smallest durable write: one row INSERT and COMMIT (a WAL flush),
    through the driver, one after the other — the floor of a single transition."""
    import statistics

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    times = []
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE bench_commit (id integer PRIMARY KEY)"))
            conn.commit()
            for i in range(rounds):
                start = time.perf_counter()
                conn.execute(text("INSERT INTO bench_commit VALUES (:i)"), {"i": i})
                conn.commit()
                times.append(time.perf_counter() - start)
            conn.execute(text("DROP TABLE bench_commit"))
            conn.commit()
    finally:
        engine.dispose()
    return statistics.median(times)


def _split(total: int, processes: int) -> list[tuple[int, int, int]]:
    """``processes`` workers on disjoint proposals, ``total`` transitions between them."""
    return [
        (i * PER_WORKER_PROPOSALS, PER_WORKER_PROPOSALS, total // processes)
        for i in range(processes)
    ]


def _breakdown(one: Run, many: Run, commit: float) -> tuple[str, str]:
    """(the limit's name, the note): what one transition costs where, and what bounds the
    speed-up — the cores (CPU per transition against the wall time of one) or the commit."""
    cores = os.cpu_count() or 1
    cpu = one.worker_cpu + (one.server_cpu or 0.0)
    wall = one.seconds
    ceiling = cores * wall / cpu if cpu else float("inf")  # what the CPU allows, all cores ours
    speedup = many.throughput / one.throughput
    if many.machine_cpu is not None:
        used = many.machine_cpu / (many.seconds * cores)
        ours = (many.worker_cpu + (many.server_cpu or 0.0)) / (many.seconds * cores)
        busy = f"; during the {many.processes}-process run the cores were {used:.0%} busy"
        busy += f" ({ours:.0%} ours: workers + their backends)"
    else:
        busy = ""
    # the share of the cores that the neighbours took meanwhile is not ours to use
    free = 1.0
    if many.machine_cpu is not None:
        others = (many.machine_cpu - many.worker_cpu - (many.server_cpu or 0.0)) / (
            many.seconds * cores
        )
        free = min(1.0, max(0.05, 1.0 - others))
    if ceiling * free < many.processes:
        allows = ceiling * free
        limit = f"cores ({cores}, {free:.0%} left by the neighbours: CPU allows ≤ {allows:.1f}×)"
    else:
        limit = f"commit latency (CPU would allow {ceiling * free:.1f}×)"
    note = (
        f"throughput {many.processes} processes / 1; 1 process: {one.throughput:.0f} tx/s,"
        f" per transition {one.per_transition(one.seconds)} wall ="
        f" worker CPU {one.per_transition(one.worker_cpu)}"
        f" + server CPU {one.per_transition(one.server_cpu)} + waiting;"
        f" a bare INSERT+COMMIT {commit * 1e3:.2f} ms; speed-up {speedup:.2f}× against a CPU"
        f" ceiling of {cores} cores × wall / CPU = {ceiling:.2f}×{busy}; limit: {limit}"
    )
    return limit.split(" (")[0], note


def run(quick: bool) -> list[Result]:
    transitions = 600 if quick else 4_000
    admin_url = server_url()
    why = reachable(admin_url)
    if why is not None:
        return [
            skipped(f"PostgreSQL: {n} processes vs 1", why, target, "min")
            for n, target in TARGETS.items()
        ]
    url = procs.create_database(admin_url)
    runs: dict[int, Run] = {}
    try:
        with scratch_dir() as work:
            progress("PostgreSQL: migrating the scratch database")
            migrate(url)
            _populate(url, max(TARGETS) * PER_WORKER_PROPOSALS)
            commit = commit_latency(url, 100 if quick else 400)
            progress(f"PostgreSQL: 1 process × {transitions:,}")
            runs[1] = _run_workers(
                url, work, [(0, max(TARGETS) * PER_WORKER_PROPOSALS, transitions)]
            )
            for n in TARGETS:
                progress(f"PostgreSQL: {n} processes × {transitions // n:,}")
                runs[n] = _run_workers(url, work, _split(transitions, n))
    finally:
        procs.drop_database(url)
    results = []
    for n, target in TARGETS.items():
        limit, note = _breakdown(runs[1], runs[n], commit)
        results.append(
            Result(
                f"PostgreSQL: {n} processes vs 1 ({transitions:,} transitions), limit: {limit}",
                ours=runs[n].throughput,
                baseline=runs[1].throughput,
                unit="tx/s",
                target=target,
                kind="min",
                ratio=runs[n].throughput / runs[1].throughput,
                note=note,
                details={
                    "commit_seconds": commit,
                    "runs": {str(k): v.__dict__ for k, v in runs.items()},
                },
            ).settle()
        )
    return results
