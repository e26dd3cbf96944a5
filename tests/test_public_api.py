"""The public API in workflow/__init__.py: every name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import workflow

REPO = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves() -> None:
    for name in workflow.__all__:
        assert getattr(workflow, name) is not None, name


def test_importing_the_package_loads_no_database_or_scheduler_library() -> None:
    code = (
        "import sys, workflow; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'apscheduler'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    # given a reader that goes away before the command writes (like `| head -0`)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "workflow", "--db", db, "init"], env=env, check=True,
                   capture_output=True, cwd=tmp_path)  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "workflow", "--db", db, "definition", "show", "--format", "dot"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the child is still importing: its first write meets a closed pipe
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=30)
    # then no internal error and no traceback, whatever was still to be written
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert proc.returncode == 141
