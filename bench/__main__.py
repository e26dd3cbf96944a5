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
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import procs
from bench.support import Result, fmt_number, progress

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
)


def table(results: list[Result]) -> str:
    """The printed table (also what goes into CHANGES.md)."""
    head = ("scenario", "ours", "baseline", "ratio", "target", "result")
    rows = []
    for r in results:
        sign = "≤" if r.kind == "max" else "≥"
        rows.append(
            (
                r.scenario,
                fmt_number(r.ours, r.unit),
                fmt_number(r.baseline, r.unit),
                "-" if r.ratio is None else f"{r.ratio:.2f}×",
                f"{sign} {r.target:g}×",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="write all results as JSON")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these")
    args = parser.parse_args(argv)
    # children in their own process groups, scratch databases and directories: ended and
    # dropped however the run ends (SIGTERM, SIGINT, SIGHUP, even SIGKILL: bench.procs)
    procs.install()
    started = time.perf_counter()
    results: list[Result] = []
    for name in args.only or SCENARIOS:
        progress(f"--- {name}")
        try:
            module = importlib.import_module(f"bench.{name}")
            results.extend(module.run(args.quick))
        except Exception as exc:  # one broken scenario must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            results.append(Result(name, status=f"ERROR ({type(exc).__name__}: {exc})"[:200]))
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
