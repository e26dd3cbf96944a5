"""Peak memory: the same work at a large and at a small table size, in fresh processes.

Bulk advance: ``advance_many`` of ``start`` on the same 1,000 proposals in ``funded``,
among 10,000 vs many (quick 50,000, full 1,000,000) proposals in other states. The work is
the same, so peak RSS must stay flat (ratio ≤ 1.2): nothing may load the whole table.
Tick: the same for the scheduler tick (1,000 due rungs), which must fire exactly those.
Peak RSS is the child's ``VmHWM`` (imports included, as a user sees it). Not
``ru_maxrss``: Linux carries that across ``fork``+``exec``, so a child would report the
parent's peak (the parent holds the generated data).
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path

from bench import procs, tick
from bench.datagen import mixed_states, proposals_with_deadlines
from bench.support import (
    COORDINATOR,
    NOW,
    REPO,
    Result,
    progress,
    scratch_dir,
    sqlite_url,
)

SCENARIO = "peak RSS"
TARGET = 1.2
SMALL = 10_000
TOUCHED = 1_000


def peak_rss_kb() -> int:
    """This process's peak resident set (KB): VmHWM on Linux, else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child() -> None:
    """Run in the subprocess: ``python -c '…child()' WHAT DB WORKDIR``; prints JSON."""
    what, db, workdir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    from bench.support import open_runtime_for

    rt = open_runtime_for(sqlite_url(db), workdir)
    before = peak_rss_kb()
    if what == "bulk":
        result = rt.engine.advance_many("start", where_state="funded", actor=COORDINATOR, now=NOW)
        done = len(result.applied)
    else:
        sweep = tick.sweep_module()
        assert sweep is not None
        done = tick.run_tick(sweep, rt)
    rt.close()
    peak = peak_rss_kb()
    print(json.dumps({"peak_kb": peak, "before_kb": before, "done": done}))


def measure(what: str, db: Path, workdir: Path) -> dict[str, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    returncode, out, err = procs.run(
        [
            sys.executable,
            "-c",
            "from bench.memory import child; child()",
            what,
            str(db),
            str(workdir),
        ],
        cwd=REPO,
        env=env,
    )
    if returncode != 0:
        raise RuntimeError(f"memory child failed: {err.strip()[-2000:]}")
    result: dict[str, int] = json.loads(out.strip().splitlines()[-1])
    return result


def run(quick: bool) -> list[Result]:
    large = 50_000 if quick else 1_000_000
    results = []
    with scratch_dir() as work:
        progress(f"{SCENARIO}: bulk advance of {TOUCHED:,} among {SMALL:,} and {large:,}")
        small_db = mixed_states(work, "small", SMALL, TOUCHED, "funded")
        large_db = mixed_states(work, "large", large, TOUCHED, "funded")
        a, b = measure("bulk", large_db, work), measure("bulk", small_db, work)
        if a["done"] != TOUCHED or b["done"] != TOUCHED:
            raise RuntimeError(f"bulk advance touched {a['done']}/{b['done']}, not {TOUCHED}")
        results.append(
            Result(
                f"{SCENARIO}: bulk advance of {TOUCHED:,}, {large:,} vs {SMALL:,} proposals",
                ours=a["peak_kb"] / 1024,
                baseline=b["peak_kb"] / 1024,
                unit="MB",
                target=TARGET,
                note="peak RSS of a fresh process; baseline = the small table",
                details={"large": a, "small": b},
            ).settle()
        )
        # the tick scenario's tables (generated once per run)
        large_tick = tick.large_count(quick)
        tick_name = f"{SCENARIO}: scheduler tick, {large_tick:,} vs {SMALL:,} proposals"
        small_t = proposals_with_deadlines(work, "tick_small", SMALL, tick.DUE)
        large_t = proposals_with_deadlines(work, "tick_large", large_tick, tick.DUE)
        a, b = measure("tick", large_t, work), measure("tick", small_t, work)
        if a["done"] != tick.DUE or b["done"] != tick.DUE:
            raise RuntimeError(f"tick fired {a['done']}/{b['done']} rungs, not {tick.DUE}")
        results.append(
            Result(
                tick_name,
                ours=a["peak_kb"] / 1024,
                baseline=b["peak_kb"] / 1024,
                unit="MB",
                target=TARGET,
                details={"large": a, "small": b},
            ).settle()
        )
    return results
