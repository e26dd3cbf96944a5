"""``ruhrflow demo`` as a newcomer runs it: the whole 2019 round in a fresh directory, wall time.

Issue 29 sets an absolute line here: the demo finishes in ≤ 10 s wall on a quiet 2-core
machine. No other program plays the same round, so there is no baseline process; the line
says so (baseline ``-``) and its note gives the child's CPU time (user + sys): a wall time far
above the CPU time means the neighbours or the disk took the difference. The child is the
README's command without ``pip install``: ``python -m workflow demo`` in an empty directory,
with the checkout's cached bytecode (as an installed package has pip's), the web accounts'
argon2 hashing and the board included. The run must succeed and its audit must verify, or
the line is an ERROR, not a figure.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time

from bench import procs
from bench.support import REPO, Result, progress, scratch_dir

SCENARIO = "ruhrflow demo (the 2019 round, 5½ years), wall"
TARGET = 10.0  # seconds, issue 29


def _one_run() -> tuple[float, float, str]:
    """(wall seconds, child CPU seconds, the summary's first line) of one fresh demo."""
    with scratch_dir("ruhrflow-bench-demo-") as work:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        for name in ("RUHRFLOW_CONFIG", "RUHRFLOW_DATABASE_URL", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        returncode, out, err = procs.run(
            [sys.executable, "-m", "workflow", "demo", "--password", "bench-demo-password"],
            timeout=600,
            cwd=work,
            env=env,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if returncode != 0:
            raise RuntimeError(f"ruhrflow demo failed ({returncode}): {err.strip()[-500:]}")
        if "audit verify: OK" not in out:
            raise RuntimeError(f"ruhrflow demo's audit did not verify: {out[-500:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        first = out.strip().splitlines()[0] if out.strip() else ""
        return wall, cpu, first


def run(quick: bool) -> list[Result]:
    runs = 1 if quick else 3
    walls: list[float] = []
    cpus: list[float] = []
    said = ""
    for n in range(runs):
        progress(f"{SCENARIO}: run {n + 1} of {runs}")
        wall, cpu, said = _one_run()
        walls.append(wall)
        cpus.append(cpu)
    wall = statistics.median(walls)
    result = Result(
        SCENARIO,
        ours=wall,
        unit="s",
        target=TARGET,
        kind="abs",
        note=(
            f"python -m workflow demo in an empty directory, median of {runs}; CPU (user + sys)"
            f" {statistics.median(cpus):.1f} s; the demo said: {said}"
        ),
        details={"walls": walls, "cpus": cpus},
    )
    return [result.settle()]
