"""What every scenario shares: results, timing, progress, scratch databases, fast data.

Setup (migrating, inserting proposals) is never timed. Data goes in through plain
``sqlite3`` ``executemany`` into a database migrated by ``workflow.app.bootstrap.initialise``,
with real hash chains (``workflow.engine.chain``), so the engine sees rows it could have written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFINITION = REPO / "definitions" / "ruhr_konferenz.yaml"
# 15 Jul 2019, 10:00 Berlin, as in the tests.
NOW = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)
COORDINATOR = "koordination"
LEAD_ACTOR = "im"  # the functional account of the IM; every bench proposal has lead IM
LEAD = "IM"


@dataclass
class Result:
    """One printed line: our figure against the baseline, and whether the target holds.

    ``kind`` says how to read the ratio: ``max`` — ours/baseline must be at most
    ``target``; ``min`` — the ratio (defined by the scenario so that bigger is better)
    must be at least ``target``; ``abs`` — an absolute limit the issue sets (ours, in
    ``unit``, at most ``target``), with no baseline and no ratio.
    """

    scenario: str
    ours: float | None = None
    baseline: float | None = None
    unit: str = "s"
    target: float = 0.0
    kind: str = "max"
    ratio: float | None = None
    status: str = "MISS"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def settle(self) -> Result:
        """Compute ratio and PASS/MISS from ours/baseline (unless already set)."""
        if self.status.startswith("SKIP"):
            return self
        if self.kind == "abs":
            ok = self.ours is not None and self.ours <= self.target
            self.status = "PASS" if ok else "MISS"
            return self
        if self.ratio is None and self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline
        if self.ratio is None:
            self.status = "MISS"
        elif self.kind == "max":
            self.status = "PASS" if self.ratio <= self.target else "MISS"
        else:
            self.status = "PASS" if self.ratio >= self.target else "MISS"
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return asdict(self)


def skipped(scenario: str, why: str, target: float = 0.0, kind: str = "max") -> Result:
    """A line that says why there is no figure (never a made-up one)."""
    return Result(scenario, target=target, kind=kind, status=f"SKIP ({why})")


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def best_of(runs: int, fn: Callable[[], float]) -> float:
    """The smallest of ``runs`` measurements (the least disturbed by the neighbours)."""
    return min(fn() for _ in range(runs))


# ``python -m bench --profile NAME``: the profiler, switched on only around our side's timed
# work (``stopwatch(ours=True)``); children that run our side (the PostgreSQL workers) write
# their own profile into the directory named by PROFILE_DIR_ENV.
PROFILER: list[Any] = []
PROFILE_DIR_ENV = "RUHRFLOW_BENCH_PROFILE_DIR"


@contextmanager
def stopwatch(ours: bool = False) -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds.

    ``ours=True`` marks our side of a comparison: what ``--profile`` records.
    """
    box = [0.0]
    profiler = PROFILER[0] if ours and PROFILER else None
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()


@contextmanager
def child_profile(name: str) -> Iterator[None]:
    """In a child process: profile the block into ``PROFILE_DIR_ENV`` when ``--profile`` asks."""
    directory = os.environ.get(PROFILE_DIR_ENV)
    if not directory:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(str(Path(directory) / f"{name}-{os.getpid()}.pstats"))


@contextmanager
def scratch_dir(prefix: str = "ruhrflow-bench-") -> Iterator[Path]:
    """A temporary directory on a real disk (``RUHRFLOW_BENCH_TMP`` or the system default)."""
    from bench import procs

    path = make_scratch_dir(prefix)
    try:
        yield path
    finally:
        procs.remove_dir(path)


def make_scratch_dir(prefix: str = "ruhrflow-bench-") -> Path:
    """A new scratch directory (``RUHRFLOW_BENCH_TMP`` or the system default), removed
    however the run ends (``bench.procs``)."""
    from bench import procs

    base = os.environ.get("RUHRFLOW_BENCH_TMP") or None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    procs.register_dir(path)
    return path


# --- the real code under test -----------------------------------------------------------


def migrate(url: str) -> None:
    """Create the schema and register the shipped definition (``workflow.app.bootstrap``)."""
    from workflow.app.bootstrap import initialise
    from workflow.process.definition import load_definition
    from workflow.store.db import Store

    store = Store.open(url)
    try:
        initialise(store, load_definition(DEFINITION), NOW)
    finally:
        store.dispose()


def settings_for(url: str, workdir: Path) -> Any:
    """Settings for ``url``: shipped defaults, mail into a Maildir under ``workdir``."""
    from workflow.app.settings import load_settings

    config = workdir / "ruhrflow-bench.toml"
    config.write_text(f'[mail]\nmaildir = "{workdir / "mail"}"\n', encoding="utf-8")
    return load_settings(config, database_url=url, env={})


def open_runtime_for(url: str, workdir: Path) -> Any:
    """The wired runtime, exactly as the CLI builds it (effects included)."""
    from workflow.app.runtime import open_runtime

    return open_runtime(settings_for(url, workdir))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# --- fast data --------------------------------------------------------------------------

# How SQLAlchemy's SQLite dialect stores a naive UTC datetime (UTCDateTime strips tzinfo).
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def sqlite_time(at: datetime) -> str:
    """A UTC datetime as the store writes it into SQLite."""
    return at.astimezone(UTC).strftime(SQLITE_TIME)


def canonical_json(value: Any) -> str:
    """JSON as SQLAlchemy's JSON type writes it into SQLite (default ``json.dumps``)."""
    return json.dumps(value)


def connect_raw(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection with the store's PRAGMAs (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=15.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=15000")
    return conn


def actor_ref(conn: sqlite3.Connection, actor_id: str) -> str:
    """The actor's ref in ``actor_refs``, created when missing (setup only)."""
    row = conn.execute(
        "SELECT ref FROM actor_refs WHERE actor_id = ? AND pseudonymised_at IS NULL"
        " ORDER BY created_at LIMIT 1",
        (actor_id,),
    ).fetchone()
    if row:
        return str(row[0])
    ref = hashlib.sha256(actor_id.encode()).hexdigest()[:24]
    conn.execute(
        "INSERT INTO actor_refs (ref, actor_id, created_at) VALUES (?, ?, ?)",
        (ref, actor_id, sqlite_time(NOW)),
    )
    return ref


def bench_key(i: int) -> str:
    """Keys that pass the KEY_PATTERN of intake (``RK-B-000001``)."""
    return f"RK-B-{i:07d}"


@dataclass(frozen=True)
class Population:
    """Which proposals to create: how many, and in which state each one is."""

    count: int
    state_of: Callable[[int], str]
    start: int = 0


def insert_proposals(path: Path, populations: Sequence[Population], chunk: int = 20_000) -> None:
    """Insert proposals (with their valid ``created`` history entry) via ``executemany``.

    Not timed. The rows look as ``workflow.engine.intake.create_proposals`` writes them, except
    that a proposal may start in any state (its chain then has one entry, which is valid).
    """
    from workflow.engine.chain import GENESIS, entry_hash

    conn = connect_raw(path)
    conn.execute("PRAGMA synchronous=OFF")  # setup only
    try:
        conn.execute("BEGIN IMMEDIATE")
        ref = actor_ref(conn, COORDINATOR)
        (definition_id,) = conn.execute("SELECT max(id) FROM definitions").fetchone()
        at = sqlite_time(NOW)
        for pop in populations:
            for lo in range(pop.start, pop.start + pop.count, chunk):
                hi = min(lo + chunk, pop.start + pop.count)
                props, hist = [], []
                for i in range(lo, hi):
                    key, state = bench_key(i), pop.state_of(i)
                    snapshot = {
                        "key": key,
                        "title": f"Bench-Vorhaben {i}",
                        "handlungsfeld": 3,
                        "themenforum": 3,
                        "lead": LEAD,
                        "participating": [],
                        "cost_estimate": "1000000",
                    }
                    entry = {
                        "chain": key,
                        "seq": 1,
                        "kind": "created",
                        "trigger": "create",
                        "from_state": None,
                        "to_state": state,
                        "actor_ref": ref,
                        "comment": None,
                        "data": snapshot,
                        "at": NOW,
                        "prev_hash": GENESIS,
                    }
                    digest = entry_hash(entry)
                    props.append(
                        (
                            key,
                            f"Bench-Vorhaben {i}",
                            "",
                            3,
                            3,
                            LEAD,
                            "[]",
                            1000000,
                            state,
                            definition_id,
                            1,
                            at,
                            at,
                            at,
                            "{}",
                            1,
                            digest,
                        )
                    )
                    hist.append(
                        (
                            key,
                            1,
                            "created",
                            "create",
                            None,
                            state,
                            ref,
                            None,
                            canonical_json(snapshot),
                            at,
                            GENESIS,
                            digest,
                        )
                    )
                conn.executemany(
                    "INSERT INTO proposals (key, title, summary, handlungsfeld, themenforum,"
                    " lead, participating, cost_estimate, state, definition_id, row_version,"
                    " state_entered_at, created_at, updated_at, data, history_seq, history_head)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    props,
                )
                conn.executemany(HISTORY_INSERT, hist)
        conn.execute("COMMIT")
    finally:
        conn.close()


HISTORY_INSERT = (
    "INSERT INTO history (chain, seq, kind, trigger, from_state, to_state, actor_ref,"
    " comment, data, at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def prepared_database(workdir: Path, name: str, populations: Sequence[Population]) -> Path:
    """A migrated SQLite file with the given proposals."""
    path = workdir / f"{name}.db"
    migrate(sqlite_url(path))
    insert_proposals(path, populations)
    return path


def copy_database(src: Path, dst: Path) -> Path:
    """Copy a (checkpointed) SQLite file, so two contestants start from equal data."""
    conn = sqlite3.connect(src)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(src, dst)
    return dst


def minutes(n: int) -> Iterable[datetime]:
    """``n`` distinct, increasing ``now`` values (one second apart)."""
    return (NOW + timedelta(days=1, seconds=i) for i in range(n))


def fmt_number(value: float | None, unit: str) -> str:
    """A figure with its unit, compact."""
    if value is None:
        return "-"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if value < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:,.0f} {unit}"
