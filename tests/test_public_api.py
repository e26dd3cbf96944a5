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
