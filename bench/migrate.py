"""Migration: ``migrate plan`` + ``migrate apply`` of many proposals to the next version.

Baseline: ourselves — a bulk ``advance_many`` of the same number of proposals in the same
run, on a fresh copy of the same data (the issue's yardstick: a migration may cost at most
twice a bulk advance). The data: n proposals in ``funded`` and n in ``implementation``. The
bulk fires ``start`` on those in ``funded`` (into ``implementation``, which opens the
quarterly report deadline with its rungs); the migration moves those in ``implementation``
to the next definition version (the shipped one with another number and a 28-day
consultation), state kept, so it too writes one history entry, one deadline and its rungs
per proposal: plan (a dry run, read-only) and apply (one transaction). Best of a few rounds.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bench.support import (
    COORDINATOR,
    Population,
    Result,
    copy_database,
    minutes,
    open_runtime_for,
    prepared_database,
    progress,
    scratch_dir,
    sqlite_url,
    stopwatch,
)

SCENARIO = "migrate plan + apply"
TARGET = 2.0
STATE = "implementation"
SHIPPED = Path(__file__).resolve().parent.parent / "definitions" / "ruhr_konferenz.yaml"


def next_version_text() -> tuple[str, int]:
    """The shipped definition as its next version (a longer consultation), and that number."""
    from workflow.process.definition import load_definition

    shipped = load_definition(SHIPPED)
    text = shipped.source_text.replace(
        f"version: {shipped.version}\n", f"version: {shipped.version + 1}\n", 1
    ).replace("    after: 21d\n", "    after: 28d\n", 1)
    return text, shipped.version + 1


def run(quick: bool) -> list[Result]:
    from workflow.app.bootstrap import register_definition
    from workflow.process.definition import parse_definition
    from workflow.store.schema import deadlines

    n = 2_000 if quick else 10_000
    rounds = 2 if quick else 3
    text, version = next_version_text()
    with scratch_dir() as work:
        progress(f"{SCENARIO}: preparing {n:,} proposals in funded and {n:,} in {STATE}")
        populations = [Population(n, lambda i: "funded"), Population(n, lambda i: STATE, n)]
        base = prepared_database(work, "base", populations)
        ours_best = bulk_best = plan_best = float("inf")
        now, later = list(minutes(2))
        for r in range(rounds):
            progress(f"{SCENARIO}: round {r + 1}/{rounds}")
            bulk_db = copy_database(base, work / f"bulk{r}.db")
            rt = open_runtime_for(sqlite_url(bulk_db), work)
            with stopwatch() as t:
                done = rt.engine.advance_many(
                    "start", where_state="funded", actor=COORDINATOR, now=now
                )
            bulk_best = min(bulk_best, t[0])
            assert len(done.applied) == n, len(done.applied)
            rt.close()

            ours_db = copy_database(base, work / f"ours{r}.db")
            rt = open_runtime_for(sqlite_url(ours_db), work)
            register_definition(rt.store, parse_definition(text, "next.yaml"), now)
            options = {
                "to_version": version,
                "state_map": {},
                "raw_fields": {},
                "keys": None,
                "where_state": STATE,
                "deadline_setting": rt.settings.section("process"),
            }
            with stopwatch(ours=True) as t:
                plan = rt.engine.plan_migration(now=later, **options)
            with stopwatch(ours=True) as a:
                _, moved = rt.engine.migrate(actor=COORDINATOR, now=later, **options)
            assert len(plan.movable) == n and len(moved.moved) == n, len(moved.moved)
            plan_best = min(plan_best, t[0])
            ours_best = min(ours_best, t[0] + a[0])
            with rt.store.read() as conn:  # each moved proposal got its report deadline
                opened = conn.execute(
                    select(func.count()).select_from(deadlines).where(deadlines.c.status == "open")
                ).scalar_one()
            assert opened == n, opened
            rt.close()
    return [
        Result(
            f"{SCENARIO}, {n:,} proposals to version {version}",
            ours=ours_best,
            baseline=bulk_best,
            target=TARGET,
            note=(
                f"baseline: advance_many of {n:,} in the same run; plan alone"
                f" {plan_best:.2f} s; best of {rounds}"
            ),
            details={"proposals": n, "rounds": rounds, "plan_seconds": plan_best},
        ).settle()
    ]
