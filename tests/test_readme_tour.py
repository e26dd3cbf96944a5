"""The README's tour works exactly as printed, in an empty directory.

The ```sh blocks of the section "A tour of the CLI" are run line by line, in order, through
bash in a fresh temporary directory, with the installed ``ruhrflow`` script and none of the
caller's ``RUHRFLOW_*`` variables — as a newcomer would after ``pip install .``. A command
documented to fail (a comment below it ending in ``(exit N)``) must fail with that code; the
daemon (``scheduler run``) must come up, sweep and stop cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "README.md"
SCRIPT_DIR = Path(sys.executable).parent
DAEMON = "scheduler run"
EXIT_NOTE = re.compile(r"\(exit (\d+)\)\s*$")


@dataclass(frozen=True)
class Step:
    command: str
    exit_code: int


def tour_steps(readme: str) -> list[Step]:
    """The commands of the tour's ```sh blocks, each with the exit code the README promises."""
    section = readme.split("## A tour of the CLI", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    steps: list[Step] = []
    for block in blocks:
        for line in block.splitlines():
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                note = EXIT_NOTE.search(line)
                if note and steps:
                    steps[-1] = Step(steps[-1].command, int(note.group(1)))
                continue
            steps.append(Step(line, 0))
    return steps


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PATH"] = f"{SCRIPT_DIR}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_daemon(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Start the daemon, wait until its first sweep is logged, stop it with SIGTERM."""
    with subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as daemon:
        assert daemon.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # waits for output, never a fixed time
            ready, _, _ = select.select([daemon.stderr], [], [], deadline - time.monotonic())
            if not ready:
                break
            line = daemon.stderr.readline()
            if not line:
                break
            seen.append(line)
            if "sweep at 2019-11-06" in line:
                break
        try:
            assert any("sweep at 2019-11-06" in line for line in seen), "".join(seen)
            daemon.send_signal(signal.SIGTERM)
            # drain both pipes while it stops: a daemon whose log fills a pipe nobody reads
            # blocks on its next line and never exits
            _, rest = daemon.communicate(timeout=60)  # it finishes the running jobs first
            assert daemon.returncode == 0, "".join(seen) + rest
        finally:
            if daemon.poll() is None:  # a failed check must not leave the test waiting on it
                daemon.kill()


@pytest.mark.skipif(not (SCRIPT_DIR / "ruhrflow").exists(), reason="ruhrflow is not installed")
def test_every_command_of_the_tour_works_as_printed(tmp_path: Path) -> None:
    # given the README's tour and an empty directory
    steps = tour_steps(README.read_text(encoding="utf-8"))
    assert steps[0].command.startswith("ruhrflow init")
    assert any(s.exit_code == 1 and "close_consultation" in s.command for s in steps)
    env = _environment()
    # when each command runs in order, then each exits as the README says
    for step in steps:
        if DAEMON in step.command:
            _run_daemon(step.command.split("#")[0].strip(), tmp_path, env)
            continue
        done = subprocess.run(
            ["bash", "-c", step.command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        report = f"{step.command}\nexit {done.returncode}\n{done.stdout[-2000:]}{done.stderr}"
        assert done.returncode == step.exit_code, report
        assert "Traceback" not in done.stderr, report
        if step.exit_code:
            assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, report
    # and the tour leaves what it promised: the database, the mails, the export, the copy
    assert {"ruhrflow.db", "mail", "history.jsonl", "my-process.yaml"} <= {
        p.name for p in tmp_path.iterdir()
    }


def test_the_first_two_commands_stay_as_they_are() -> None:
    readme = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks[0] == "pip install . && ruhrflow demo\n"
    assert blocks[1] == "pip install -e '.[test]' && pytest\n"
