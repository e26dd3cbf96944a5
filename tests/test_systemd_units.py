"""The shipped systemd units pass ``systemd-analyze verify`` and keep their promises (#26).

``systemd-analyze`` warns about an unknown key or a value it cannot parse on stderr and
still exits 0, so any output fails the test too. The units name the installed script as
``/opt/ruhrflow/venv/bin/ruhrflow`` (README "Deploying"); verify checks that it is
executable, so the copies checked here name this installation's script instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

UNITS = REPO / "config" / "systemd"
INSTALLED = "/opt/ruhrflow/venv/bin/ruhrflow"
SCRIPT = Path(sys.executable).parent / "ruhrflow"


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        message = "systemd-analyze is missing (apt-get install systemd)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _analyze()
    if not SCRIPT.exists():
        pytest.skip("ruhrflow is not installed as a script")
    # given the shipped units, pointing at this installation's script
    copies = []
    for unit in sorted(UNITS.iterdir()):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text(encoding="utf-8").replace(INSTALLED, str(SCRIPT)))
        copies.append(str(copy))
    assert {Path(c).name for c in copies} >= {"ruhrflow-web.service", "ruhrflow-scheduler.service"}
    # when systemd checks them, then it finds nothing to say
    done = subprocess.run(
        [analyze, "verify", "--man=no", *copies], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.parametrize("name", ["ruhrflow-web.service", "ruhrflow-scheduler.service"])
def test_the_services_restart_wait_for_postgresql_and_run_hardened_as_their_user(
    name: str,
) -> None:
    text = (UNITS / name).read_text(encoding="utf-8")
    lines = {line.strip() for line in text.splitlines()}
    for promise in (
        "Restart=on-failure",
        "User=ruhrflow",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "StateDirectory=ruhrflow",
    ):
        assert promise in lines, (name, promise)
    assert any(line.startswith("After=") and "postgresql.service" in line for line in lines)
    assert f"ExecStart={INSTALLED} " in text
