"""``python -m bench [--quick] [--json FILE] [--only NAME…]``: run every scenario, print ratios.

Each line: scenario, our figure, the baseline measured in the same run, the ratio, the
target and PASS/MISS (or SKIP with the reason). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import procs
from bench.support import PROFILE_DIR_ENV, PROFILER, Result, fmt_number, progress

SCENARIOS = (
    "transitions",
    "peer",
    "bulk",
    "tick",
    "verify",
    "cold_cli",
    "memory",
    "postgres",
    "web_list",
    "web_load",
    "migrate",
    "demo",
)

QUICK_RUN_LIMIT = 120.0  # seconds on a quiet machine (issue 29)


def table(results: list[Result]) -> str:
    """The printed table (also what goes into CHANGES.md)."""
    head = ("scenario", "ours", "baseline", "ratio", "target", "result")
    rows = []
    for r in results:
        sign = "≥" if r.kind == "min" else "≤"
        limit = fmt_number(r.target, r.unit) if r.kind == "abs" else f"{r.target:g}×"
        rows.append(
            (
                r.scenario,
                fmt_number(r.ours, r.unit),
                fmt_number(r.baseline, r.unit),
                "-" if r.ratio is None else f"{r.ratio:.2f}×",
                f"{sign} {limit}",
                r.status,
            )
        )
    widths = [max(len(str(x[i])) for x in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def start_profile(directory: str) -> Path:
    """Switch ``--profile`` on: the profiler of our side, a directory for the children's."""
    import cProfile

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    children = out / "children"
    shutil.rmtree(children, ignore_errors=True)
    children.mkdir()
    os.environ[PROFILE_DIR_ENV] = str(children.resolve())
    PROFILER.append(cProfile.Profile())
    return out


def write_profile(name: str, out: Path) -> None:
    """``NAME.pstats`` (ours, children merged in) and ``NAME.txt``: top 25 by cumulative and
    by own time."""
    import io
    import pstats

    children = sorted((out / "children").glob("*.pstats"))
    own = PROFILER[0]
    own.create_stats()
    if not own.stats and not children:
        progress(f"profile: nothing of ours ran in a profiled section of {name}")
        return
    stats = pstats.Stats(own) if own.stats else pstats.Stats(str(children.pop(0)))
    for child in children:
        stats.add(str(child))
    shutil.rmtree(out / "children", ignore_errors=True)
    stats.dump_stats(str(out / f"{name}.pstats"))
    text = io.StringIO()
    printed = pstats.Stats(str(out / f"{name}.pstats"), stream=text)
    printed.strip_dirs()
    text.write(f"python -m bench --profile {name}: our side's timed work only\n")
    printed.sort_stats("cumulative").print_stats(25)
    printed.sort_stats("tottime").print_stats(25)
    (out / f"{name}.txt").write_text(text.getvalue(), encoding="utf-8")
    progress(f"profile written to {out / name}.pstats and {out / name}.txt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="write all results as JSON")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these")
    parser.add_argument(
        "--profile",
        metavar="NAME",
        choices=SCENARIOS,
        help="run only this scenario and write a cProfile of our side's timed work: "
        "NAME.pstats and NAME.txt (top 25) in --profile-dir; its figures are not comparable",
    )
    parser.add_argument(
        "--profile-dir", metavar="DIR", default="bench-profile", help="(default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.only = [args.profile]
    # children in their own process groups, scratch databases and directories: ended and
    # dropped however the run ends (SIGTERM, SIGINT, SIGHUP, even SIGKILL: bench.procs)
    procs.install()
    started = time.perf_counter()
    results: list[Result] = []
    profile_dir = start_profile(args.profile_dir) if args.profile else None
    for name in args.only or SCENARIOS:
        progress(f"--- {name}")
        began = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            lines = module.run(args.quick)
        except Exception as exc:  # one broken scenario must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            lines = [Result(name, status=f"ERROR ({type(exc).__name__}: {exc})"[:200])]
        spent = time.perf_counter() - began
        progress(f"--- {name}: {spent:.1f} s")
        for line in lines:
            line.details["scenario_seconds"] = round(spent, 1)
        results.extend(lines)
    if profile_dir is not None:
        write_profile(args.profile, profile_dir)
    if args.quick and not args.only:
        results.append(
            Result(
                "python -m bench --quick itself, wall",
                ours=time.perf_counter() - started,
                target=QUICK_RUN_LIMIT,
                kind="abs",
                note="every scenario, setup included (the scratch databases' drops excluded)",
            ).settle()
        )
    info = machine()
    info["quick"] = args.quick
    info["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"ruhrflow bench — {'quick' if args.quick else 'full'} run, {info['date']},"
        f" {info['cores']} cores, Python {info['python']}, {info['seconds']} s"
    )
    print(table(results))
    notes = [f"- {r.scenario}: {r.note}" for r in results if r.note]
    if notes:
        print("notes:")
        print("\n".join(notes))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"machine": info, "results": [r.as_dict() for r in results]}, fh, indent=2)
        progress(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
