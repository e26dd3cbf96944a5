"""Cold CLI: whole ``python -m workflow`` processes against bare imports of their libraries.

``--help`` must stay as light as click itself (no SQLAlchemy, no APScheduler);
``proposal show`` and ``advance`` may cost what loading SQLAlchemy costs, twice over.
Best of N runs each, so a neighbour's burst does not count.
"""

from __future__ import annotations

import os
import sys
import time

from bench import procs
from bench.support import (
    LEAD_ACTOR,
    REPO,
    Population,
    Result,
    prepared_database,
    progress,
    scratch_dir,
    settings_for,
    sqlite_url,
)

SCENARIO = "cold CLI"


def _timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    returncode, _, err = procs.run(args, timeout=120, cwd=REPO, env=env)
    elapsed = time.perf_counter() - start
    if returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({returncode}): {err.strip()}")
    return elapsed


def run(quick: bool) -> list[Result]:
    runs = 3 if quick else 15
    with scratch_dir() as work:
        db = prepared_database(work, "cli", [Population(3, lambda i: "implementation")])
        settings_for(sqlite_url(db), work)  # writes the config with a Maildir under work
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        env["RUHRFLOW_CONFIG"] = str(work / "ruhrflow-bench.toml")
        env.pop("RUHRFLOW_DATABASE_URL", None)
        # Both sides run from cached bytecode, as an installed package does (pip compiles it):
        # with PYTHONDONTWRITEBYTECODE set (some shells and CI images set it), every run of
        # ours compiled the checkout's modules anew while SQLAlchemy came from pip's .pyc
        # files — a third of the cold `advance` figure was the compiler.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        cli = [py, "-m", "workflow", "--db", sqlite_url(db)]
        cases = [
            (
                "ruhrflow --help",
                [*cli, "--help"],
                [py, "-c", "import click"],
                1.2,  # issue 29 (was 1.5)
                "python -c 'import click'",
            ),
            (
                "ruhrflow proposal show KEY",
                [*cli, "proposal", "show", "RK-B-0000000"],
                [py, "-c", "import sqlalchemy.orm"],
                2.0,
                "python -c 'import sqlalchemy.orm'",
            ),
            (
                "ruhrflow advance KEY report_progress",
                [
                    *cli,
                    "--as",
                    LEAD_ACTOR,
                    "advance",
                    "RK-B-0000001",
                    "report_progress",
                    "--set",
                    "progress=20",
                ],
                [py, "-c", "import sqlalchemy.orm"],
                1.1,  # issue 29 (was 2.0)
                "python -c 'import sqlalchemy.orm'",
            ),
        ]
        cache = (
            "no cache of parsed definitions (root)"
            if hasattr(os, "geteuid") and os.geteuid() == 0
            else "cache of parsed definitions in use"
        )
        results = []
        for name, ours_args, base_args, target, base_name in cases:
            # --help takes a tenth of a second: more tries cost nothing and steady the figure
            tries = max(runs, 7) if "--help" in ours_args else runs
            progress(f"{SCENARIO}: {name}, best of {tries}")
            # warm the page cache and the bytecode cache — and the cache of parsed
            # definitions (workflow/process/definition_cache.py), which an earlier one-shot
            # command of the same user has filled, as it fills it for every later one (a
            # user's, not root's: as root there is no such cache, and the note says so)
            _timed(ours_args, env)
            _timed(base_args, env)
            ours = theirs = float("inf")
            for _ in range(tries):  # interleaved, best of N each
                ours = min(ours, _timed(ours_args, env))
                theirs = min(theirs, _timed(base_args, env))
            results.append(
                Result(
                    f"{SCENARIO}: {name}",
                    ours=ours,
                    baseline=theirs,
                    target=target,
                    note=f"vs {base_name}; best of {tries} processes; {cache}",
                ).settle()
            )
    return results
