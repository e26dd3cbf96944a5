"""Scheduler tick: 1,000 due rungs among many proposals vs the same among 10,000.

The sweep must ask an indexed question (the partial index on unfired rungs), so its cost
follows what is due, not the table size: the ratio large/small should stay ≤ 1.5.
Needs ``workflow.deadlines.sweep`` (issue 3); until it is on main this prints a SKIP line.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.datagen import proposals_with_deadlines
from bench.support import (
    NOW,
    Result,
    open_runtime_for,
    progress,
    scratch_dir,
    sqlite_url,
    stopwatch,
)

SCENARIO = "scheduler tick"
TARGET = 1.5
DUE = 1_000
SMALL = 10_000


def sweep_module() -> ModuleType:
    """The sweep module (imported late: the harness starts without loading the engine)."""
    return importlib.import_module("workflow.deadlines.sweep")


def run_tick(sweep: ModuleType, runtime: Any) -> int:
    """One pass of the sweep exactly as ``ruhrflow scheduler tick --now`` runs it (the
    CLI's hooks and ``[scheduler]`` settings); returns how many rungs it fired.
    """
    from workflow.app.tick import scheduler_hooks

    section = runtime.settings.section("scheduler")
    # the runtime's definition machines (the engine's before they became private)
    machines = runtime.machines
    result = sweep.sweep(
        runtime.store,
        machines,
        runtime.engine.append_event,
        NOW,
        on_rung=scheduler_hooks(runtime, lambda: NOW).on_rung,
        late_after=timedelta(seconds=float(section.get("late_after_seconds", 300))),
        batch_size=int(section.get("batch_size", 200)),
    )
    return len(result.fired)


def timed_tick(sweep: ModuleType, path: Path, work: Path) -> float:
    rt = open_runtime_for(sqlite_url(path), work)
    import workflow.cli.schedule  # noqa: F401  (imported here, not inside the first timing)

    try:
        with stopwatch(ours=True) as t:
            fired = run_tick(sweep, rt)
        if fired != DUE:  # a tick that fires the wrong rungs measures nothing
            raise RuntimeError(f"the tick on {path.name} fired {fired} rungs, not {DUE}")
        return t[0]
    finally:
        rt.close()


def large_count(quick: bool) -> int:
    """1,000,000 (quick: 100,000 — generating it takes ~10 s, the tick itself well under 1 s)."""
    return 100_000 if quick else 1_000_000


def run(quick: bool) -> list[Result]:
    large = large_count(quick)
    name = f"{SCENARIO}: {DUE:,} due among {large:,} vs {SMALL:,} proposals"
    sweep = sweep_module()
    with scratch_dir() as work:
        progress(f"{SCENARIO}: generating data")
        small_db = proposals_with_deadlines(work, "small", SMALL, DUE)
        large_db = proposals_with_deadlines(work, "large", large, DUE)
        progress(f"{SCENARIO}: ticking")
        ours = timed_tick(sweep, large_db, work)
        theirs = timed_tick(sweep, small_db, work)
    return [
        Result(
            name,
            ours=ours,
            baseline=theirs,
            target=TARGET,
            note="baseline = the same tick on the small table",
        ).settle()
    ]
