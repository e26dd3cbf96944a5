"""Where the time of the hot paths goes: ``python -m bench.breakdown [--pages N] [--skip-pg]``.

Not a scenario (it prints no ratio): the figures behind ``bench/README.md``'s "Where the time
goes". For each hot path it counts the statements (SQLite: the driver's trace callback,
which also sees what ``workflow.store.direct`` hands to the cursor; PostgreSQL: SQLAlchemy's
``before_cursor_execute``, one event per round trip of a statement) and splits the time with
cProfile into the driver's execute and commit, the hash chain, the transition effects,
and the rest (the engine's Python and SQLAlchemy). For the web pages it splits one request
(through the Flask app in-process, as a logged-in coordinator) into SQL (time from each
``before_cursor_execute`` to the next fetch's end, i.e. the driver with its round trip),
template rendering (Flask's ``before_render_template`` to ``template_rendered``) and the
rest (Flask, the view's Python), and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every
statement of the page on PostgreSQL.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import procs
from bench.datagen import proposals_with_deadlines
from bench.support import (
    COORDINATOR,
    LEAD_ACTOR,
    Population,
    copy_database,
    migrate,
    minutes,
    open_runtime_for,
    prepared_database,
    progress,
    scratch_dir,
    settings_for,
    sqlite_url,
)

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
PAGES = {"list": "/proposals?state=implementation&page=2", "worklist": "/worklist"}


# --- counting statements ----------------------------------------------------------------------


class Statements:
    """Every statement a store sends, with the SQL's first words as its kind."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.sql: list[tuple[str, Any]] = []
        self.seconds = 0.0
        self._started: float | None = None

    def note(self, sql: str, params: Any = None) -> None:
        # the SQLite trace shows the statement with its values: one kind per statement
        shape = _NUMBER.sub("?", _QUOTED.sub("?", " ".join(sql.split())))
        self.seen[shape[:110]] += 1
        self.sql.append((sql, params))

    @property
    def count(self) -> int:
        return sum(self.seen.values())

    def reset(self) -> None:
        self.seen.clear()
        self.sql.clear()
        self.seconds = 0.0


@contextmanager
def counting(store: Any) -> Iterator[Statements]:
    """Count (and time, on PostgreSQL) what ``store`` sends from here on."""
    from sqlalchemy import event

    found = Statements()
    engine = store.engine

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if engine.dialect.name != "sqlite":
            found.note(sql, params)
        found._started = time.perf_counter()

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if found._started is not None:
            found.seconds += time.perf_counter() - found._started
            found._started = None

    # the time: what SQLAlchemy hands to the driver (on SQLite not what workflow.store.direct
    # runs on the cursor itself: the web's reads all go through SQLAlchemy)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        if engine.dialect.name == "sqlite":
            with _traced(engine, found):
                yield found
        else:
            yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@contextmanager
def _traced(engine: Any, found: Statements) -> Iterator[None]:
    """Every statement SQLite runs on the connections of ``engine`` from here on."""
    from sqlalchemy import event

    last = [""]

    def traced(sql: str) -> None:
        # a BEFORE INSERT trigger (history's) traces its statement a second time
        if sql != last[0]:
            found.note(sql)
        last[0] = sql

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(traced)

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # every connection from now on is a traced one
    try:
        yield
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


# --- splitting a profile ----------------------------------------------------------------------

# (label, a test on pstats' (file, line, function) key); cumulative time of the outermost match
PARTS: list[tuple[str, Callable[[tuple[str, int, str]], bool]]] = [
    ("driver: commit", lambda k: k[2] in ("<method 'commit' of 'sqlite3.Connection' objects>",)
     or (k[2] == "commit" and "psycopg" in k[0])),
    ("driver: execute", lambda k: k[2] in (
        "<method 'execute' of 'sqlite3.Cursor' objects>",
        "<method 'executemany' of 'sqlite3.Cursor' objects>",
    ) or (k[2] in ("execute", "executemany") and "psycopg/cursor.py" in k[0])),
    ("hash chain (canonical JSON + SHA-256)", lambda k: k[0].endswith("workflow/engine/chain.py")
     and k[2] in ("entry_hash", "link")),
    ("effects (deadlines, notices; their SQL included)", lambda k: k[2] == "_run_effects"),
]  # fmt: skip


def split_profile(profile: cProfile.Profile, total_calls: int) -> list[tuple[str, float]]:
    """Per-call milliseconds of each part (overlaps: effects include their SQL)."""
    stats = pstats.Stats(profile)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(cum for (_, _, _, cum, _) in table.values())
    rows = [("total (profiled)", total)]
    for label, matches in PARTS:
        keys = [k for k in table if matches(k)]
        # the outermost: not called by another match (recursion would count twice)
        seconds = sum(
            table[k][3] for k in keys if not any(caller in keys for caller in table[k][4])
        )
        rows.append((label, seconds))
    return [(label, seconds / total_calls * 1e3) for label, seconds in rows]


# --- the hot paths ----------------------------------------------------------------------------


def transitions(url: str, work: Path, n: int) -> dict[str, Any]:
    """``n`` single ``report_progress`` advances through the CLI's runtime (as transitions.py)."""
    rt = open_runtime_for(url, work)
    try:
        nows = list(minutes(n + 2))
        fields = {"progress": 50}
        keys = [f"RK-B-{i % 100:07d}" for i in range(n)]
        for at in nows[-2:]:  # warm: the deadline opened, met and opened again
            rt.engine.advance(keys[0], "report_progress", actor=LEAD_ACTOR, now=at, fields=fields)
        with counting(rt.store) as seen:
            rt.engine.advance(keys[1], "report_progress", actor=LEAD_ACTOR, now=nows[0], fields={
                "progress": 40})  # fmt: skip
        per_one = dict(seen.seen)
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.enable()
        for key, at in zip(keys[2:], nows[1:], strict=False):
            rt.engine.advance(key, "report_progress", actor=LEAD_ACTOR, now=at, fields=fields)
        profile.disable()
        wall = (time.perf_counter() - start) / (n - 2)
        return {
            "statements": per_one,
            "parts": split_profile(profile, n - 2),
            "wall_ms": wall * 1e3,
        }
    finally:
        rt.close()


def bulk(url: str, work: Path, n: int) -> dict[str, Any]:
    """``advance_many("start")`` of ``n`` proposals in funded (as bulk.py)."""
    rt = open_runtime_for(url, work)
    try:
        (now,) = list(minutes(1))
        profile = cProfile.Profile()
        with counting(rt.store) as seen:
            profile.enable()
            start = time.perf_counter()
            result = rt.engine.advance_many(
                "start", where_state="funded", actor=COORDINATOR, now=now
            )
            wall = time.perf_counter() - start
            profile.disable()
        assert len(result.applied) == n, len(result.applied)
        return {
            "statements": dict(seen.seen),
            "parts": split_profile(profile, 1),
            "wall_ms": wall * 1e3,
        }
    finally:
        rt.close()


def pages(url: str, work: Path, rounds: int, explain: bool) -> dict[str, Any]:
    """The list and the worklist through the Flask app: statements, SQL, templates, rest."""
    from flask import before_render_template, template_rendered

    from workflow.access import accounts
    from workflow.web import create_app

    rt = open_runtime_for(url, work)
    try:
        now = datetime.now(UTC)
        accounts.set_password(rt.store, rt.directory, COORDINATOR, "bench-passwort-123", now)
        epoch = accounts.session_epoch(rt.store, COORDINATOR)
        assert epoch is not None
        sid = accounts.begin_session(rt.store, COORDINATOR, epoch, now, timedelta(hours=8))
        app = create_app(settings_for(url, work), runtime=rt)
        client = app.test_client()
        with client.session_transaction() as session:
            session["sid"] = sid
            session["actor"] = COORDINATOR
        rendering = [0.0, 0.0]  # start, sum

        def began(sender: Any, **extra: Any) -> None:
            rendering[0] = time.perf_counter()

        def ended(sender: Any, **extra: Any) -> None:
            rendering[1] += time.perf_counter() - rendering[0]

        before_render_template.connect(began, app)
        template_rendered.connect(ended, app)
        found: dict[str, Any] = {}
        with counting(rt.store) as seen:
            for page, path in PAGES.items():
                assert client.get(path).status_code == 200  # warm-up
                totals, sqls, renders, counts = [], [], [], []
                statements: dict[str, int] = {}
                captured: list[tuple[str, Any]] = []
                for _ in range(rounds):
                    rendering[1] = 0.0
                    seen.reset()
                    start = time.perf_counter()
                    response = client.get(path)
                    totals.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.status_code
                    sqls.append(seen.seconds)
                    renders.append(rendering[1])
                    counts.append(seen.count)
                    statements, captured = dict(seen.seen), list(seen.sql)
                found[page] = {
                    "total_ms": statistics.median(totals) * 1e3,
                    "sql_ms": statistics.median(sqls) * 1e3,
                    "render_ms": statistics.median(renders) * 1e3,
                    "statements": statements,
                    "count": statistics.median(counts),
                    "bytes": len(response.data),
                    "captured": captured,
                }
        for page in found:
            captured = found[page].pop("captured")
            found[page]["explain"] = _explain(rt.store, captured) if explain else []
        return found
    finally:
        rt.close()


def _explain(store: Any, captured: list[tuple[str, Any]]) -> list[str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each SELECT the page sent (PostgreSQL)."""
    out = []
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for sql, params in captured:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            out.append(" ".join(sql.split())[:160] + "\n" + plan)
        conn.rollback()
    return out


# --- printing ---------------------------------------------------------------------------------


def show(title: str, found: dict[str, Any]) -> None:
    print(f"\n## {title}")
    if "wall_ms" in found:
        print(f"wall (profiled): {found['wall_ms']:.2f} ms")
    if "parts" in found:
        for label, ms in found["parts"]:
            print(f"  {label:<52} {ms:8.3f} ms")
    if "statements" in found:
        print(f"statements: {sum(found['statements'].values())}")
        for sql, count in sorted(found["statements"].items(), key=lambda kv: -kv[1]):
            print(f"  {count:5} × {sql}")


def show_pages(title: str, found: dict[str, Any]) -> None:
    for page, f in found.items():
        print(f"\n## {title}: {page} ({f['bytes']:,} bytes)")
        rest = f["total_ms"] - f["sql_ms"] - f["render_ms"]
        print(
            f"median request {f['total_ms']:.2f} ms = SQL {f['sql_ms']:.2f} ms"
            f" + templates {f['render_ms']:.2f} ms"
            f" + the rest (Flask, view Python) {rest:.2f} ms;"
            f" statements per request: {f['count']:.0f}"
        )
        for sql, count in f["statements"].items():
            print(f"  {count:3} × {sql}")
        for plan in f["explain"]:
            print("\n" + plan)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__)
    parser.add_argument("--transitions", type=int, default=300)
    parser.add_argument("--bulk", type=int, default=2_000)
    parser.add_argument("--pages", type=int, default=20_000, help="proposals for the web pages")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("transitions", "bulk", "web"),
        default=("transitions", "bulk", "web"),
    )
    args = parser.parse_args()
    procs.install()
    from bench.postgres import reachable, server_url

    pg = not args.skip_pg and reachable(server_url()) is None
    print(f"python -m bench.breakdown — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with scratch_dir() as work:
        if "transitions" in args.parts:
            _transitions(args, work, pg)
        if "bulk" in args.parts:
            progress("breakdown: bulk")
            b = prepared_database(work, "b", [Population(args.bulk, lambda i: "funded")])
            found = bulk(sqlite_url(b), work, args.bulk)
            show(f"bulk advance_many of {args.bulk:,}, SQLite", found)
        if "web" in args.parts:
            _web(args, work, pg)


def _transitions(args: Any, work: Path, pg: bool) -> None:
    from bench.postgres import server_url
    from bench.web_load import _copy_into

    progress("breakdown: single transitions")
    base = prepared_database(work, "t", [Population(101, lambda i: "implementation")])
    pristine = copy_database(base, work / "t2.db")
    show("single transition, SQLite", transitions(sqlite_url(base), work, args.transitions))
    if pg:
        url = procs.create_database(server_url())
        try:
            migrate(url)
            _copy_into(url, pristine)
            show("single transition, PostgreSQL", transitions(url, work, args.transitions))
        finally:
            procs.drop_database(url)


def _web(args: Any, work: Path, pg: bool) -> None:
    from bench.postgres import server_url
    from bench.web_load import _copy_into

    progress(f"breakdown: web pages at {args.pages:,} proposals")
    db = proposals_with_deadlines(work, "pages", args.pages, 1_000)
    show_pages(f"web, SQLite, {args.pages:,}", pages(sqlite_url(db), work, args.rounds, False))
    if pg:
        url = procs.create_database(server_url())
        try:
            migrate(url)
            _copy_into(url, db)
            found = pages(url, work, args.rounds, True)
            show_pages(f"web, PostgreSQL, {args.pages:,}", found)
        finally:
            procs.drop_database(url)


if __name__ == "__main__":
    main()
