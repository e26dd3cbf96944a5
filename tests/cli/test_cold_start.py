"""A cold ``ruhrflow advance`` loads what a transition needs, and no more (issue 29).

The commands run in processes of their own, as a user starts them (``python -m workflow``);
each reports the modules it had loaded when it ended. No timings: what a cold start costs
is mostly what it imports, and that is what these tests pin down.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NOW, REPO
from support import Cli, walk_to

from workflow.engine.engine import Engine

# Run as `python -m workflow ...`; when the process ends, write its modules to a file, and
# whether the cyclic collector was on again (it is paused while the process starts).
PROBE = """
import atexit, gc, json, runpy, sys
out, argv = sys.argv[1], sys.argv[2:]
def report():
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"modules": sorted(sys.modules), "gc": gc.isenabled()}, f)
atexit.register(report)
sys.argv = ["ruhrflow", *argv]
runpy.run_module("workflow", run_name="__main__", alter_sys=True)
"""

# Loaded only by what is no transition: parsing a definition (PyYAML, the section parsers,
# the formats), the state-machine library (for guarded triggers), migrations, erasure.
NOT_FOR_A_TRANSITION = (
    "yaml",
    "workflow.process.yaml_lines",
    "workflow.process.sections",
    "workflow.process.formats",
    "transitions",
    "workflow.engine.migration",
    "workflow.engine.erasure",
    "difflib",
    "workflow.engine.intake",
    "workflow.engine.edits",
    "workflow.store.documents",
)


def as_a_user() -> list[str]:
    """The prefix that runs a command as a user, not root: a ruhrflow run as root keeps no
    parsed definitions. Where the tests run as root, the command runs in a user namespace
    whose only user is the runner (the same files, read and written as its own)."""
    if os.geteuid() != 0:
        return []
    prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    try:
        works = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        works = None
    if works is None or works.returncode != 0:
        pytest.skip("runs as root and cannot start a process as a user (unshare)")
    return prefix


def cold(tmp_path: Path, database_url: str, *args: str) -> dict[str, object]:
    out = tmp_path / "probe.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env["RUHRFLOW_CACHE_DIR"] = str(tmp_path / "cache")
    env.pop("RUHRFLOW_ACTOR", None)
    env.pop("RUHRFLOW_DATABASE_URL", None)
    done = subprocess.run(
        [*as_a_user(), sys.executable, "-c", PROBE, str(out), "--db", database_url, *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return report


def loaded(report: dict[str, object], *names: str) -> list[str]:
    modules = report["modules"]
    assert isinstance(modules, list)
    return [m for m in modules if m.split(".")[0] in names or m in names]


@pytest.fixture
def in_implementation(database_url: str, engine: Engine) -> Cli:
    run = Cli(database_url)
    for key in ("RK-03-01", "RK-03-02"):
        run("proposal", "add", "--key", key, "--title", f"Vorhaben {key}", "--handlungsfeld",
            "3", "--forum", "3", "--lead", "IM", "--cost", "2500000")  # fmt: skip
        walk_to(engine, key, "implementation", NOW)
    return run


def test_a_cold_advance_parses_no_definition_and_loads_no_planner(
    tmp_path: Path, database_url: str, in_implementation: Cli
) -> None:
    advance = ("--now", "2019-12-01T10:00", "--as", "im", "advance")
    # the first process parses the stored definition and keeps the parsed form
    first = cold(tmp_path, database_url, *advance, "RK-03-01", "report_progress",
                 "--set", "progress=20")  # fmt: skip
    assert "yaml" in loaded(first, "yaml")
    assert len(list((tmp_path / "cache" / "definitions").glob("*.json"))) == 1
    # the next one reads it: a normal start imports no PyYAML, and nothing else a
    # transition does not need
    second = cold(tmp_path, database_url, *advance, "RK-03-02", "report_progress",
                  "--set", "progress=30")  # fmt: skip
    assert loaded(second, *NOT_FOR_A_TRANSITION) == []
    assert second["gc"] is True  # the collector runs again once the start is over
    # and both transitions happened, as ever
    for key, progress in (("RK-03-01", 20), ("RK-03-02", 30)):
        history = in_implementation.json("history", key, actor=None)
        assert history[-1]["trigger"] == "report_progress"
        assert history[-1]["data"]["fields"]["progress"] == progress


def test_a_cold_proposal_show_parses_no_definition(
    tmp_path: Path, database_url: str, in_implementation: Cli
) -> None:
    cold(tmp_path, database_url, "proposal", "show", "RK-03-01")
    report = cold(tmp_path, database_url, "proposal", "show", "RK-03-01")
    assert loaded(report, *NOT_FOR_A_TRANSITION) == []


def test_a_cold_service_job_neither_reads_nor_keeps_parsed_definitions(
    tmp_path: Path, database_url: str, in_implementation: Cli
) -> None:
    # the scheduler's tick runs as the service's account, with its login: the process
    # rules come from the database, not from a file that account may write
    # a person's command keeps an entry
    cold(tmp_path, database_url, "--now", "2019-12-01T10:00", "--as", "im", "triggers", "RK-03-01")
    (entry,) = (tmp_path / "cache" / "definitions").glob("*.json")
    tick = cold(tmp_path, database_url, "--now", "2021-06-01T10:00", "scheduler", "tick")
    assert "yaml" in loaded(tick, "yaml")  # parsed the stored text itself
    assert list((tmp_path / "cache" / "definitions").glob("*.json")) == [entry]


def test_the_collector_is_left_alone_in_a_process_main_did_not_start() -> None:
    # the tests run commands through click's runner, in their own process: no pause, no
    # freeze there
    from workflow.cli import startup

    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    with startup.loading():
        assert gc.isenabled()
    startup.resume()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
