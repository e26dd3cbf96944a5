"""Bulk transition: ``advance_many`` of one trigger on many proposals in one transaction.

Baseline: raw ``sqlite3`` — one SELECT of the state, ``executemany`` of the same UPDATEs
and history INSERTs with the same hashing (plus the mirrored effect rows), one commit.
The trigger is ``start`` (funded → implementation) by the coordination office. Each side
runs on a fresh copy of the same data; best of a few rounds.
"""

from __future__ import annotations

from bench import raw
from bench.support import (
    COORDINATOR,
    Population,
    Result,
    actor_ref,
    connect_raw,
    copy_database,
    minutes,
    open_runtime_for,
    prepared_database,
    progress,
    scratch_dir,
    sqlite_url,
    stopwatch,
)

SCENARIO = "bulk advance_many"
TARGET = 1.5  # issue 29 (issue 2 asked ≤ 3×)
TRIGGER, FROM, TO = "start", "funded", "implementation"


def run(quick: bool) -> list[Result]:
    n = 2_000 if quick else 10_000
    rounds = 2 if quick else 3
    with scratch_dir() as work:
        progress(f"{SCENARIO}: preparing {n:,} proposals in {FROM}")
        # proposal n is the warm-up one (in `approved`, so the bulk does not touch it)
        base = prepared_database(
            work, "base", [Population(n + 1, lambda i: FROM if i < n else "approved")]
        )
        ours_best = raw_best = float("inf")
        mirror = raw.EffectMirror()
        now, warm_now = list(minutes(2))
        for r in range(rounds):
            progress(f"{SCENARIO}: round {r + 1}/{rounds}")
            ours_db = copy_database(base, work / f"ours{r}.db")
            rt = open_runtime_for(sqlite_url(ours_db), work)
            before = raw.EffectMirror.counts(ours_db)
            rt.engine.advance(f"RK-B-{n:07d}", "request_budget", actor=COORDINATOR, now=warm_now)
            with stopwatch(ours=True) as t:
                result = rt.engine.advance_many(
                    TRIGGER, where_state=FROM, actor=COORDINATOR, now=now
                )
            ours_best = min(ours_best, t[0])
            assert len(result.applied) == n, len(result.applied)
            mirror = raw.EffectMirror.observe(ours_db, before, result.applied[-1].proposal_id)
            rt.close()

            raw_db = copy_database(base, work / f"raw{r}.db")
            conn = connect_raw(raw_db)
            ref = actor_ref(conn, COORDINATOR)
            with stopwatch() as t:
                count = raw.advance_state(
                    conn, FROM, TRIGGER, TO, ref=ref, now=now, fields={}, mirror=mirror
                )
            raw_best = min(raw_best, t[0])
            assert count == n, count
            conn.close()
    return [
        Result(
            f"{SCENARIO}, 1 trigger × {n:,} proposals",
            ours=ours_best,
            baseline=raw_best,
            target=TARGET,
            note=f"one transaction; raw sqlite3 executemany, {mirror.describe()}; best of {rounds}",
            details={"proposals": n, "rounds": rounds},
        ).settle()
    ]
