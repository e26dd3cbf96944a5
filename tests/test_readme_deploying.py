"""README "Deploying" works as printed, on a fresh database (issue #26).

The section's ```sh blocks run line by line, in order, with the installed ``ruhrflow``
script, as the service user would run them — the absolute paths (/etc/ruhrflow,
/var/lib/ruhrflow, /var/backups/ruhrflow) moved into a temporary directory and the
database given by ``RUHRFLOW_DATABASE_URL`` (the fresh database of the test's backend; the
section's config names PostgreSQL, which the variable overrides as documented). A block
starting ``# on SQLite`` or ``# on PostgreSQL`` runs on that backend only. The ```toml block is
the configuration file. Where the ```bash blocks start the services (``systemctl enable
--now``), the test starts both the way the shipped units do (their ExecStart, working
directory and RUHRFLOW_CONFIG) and waits for ``/readyz``; at the end it stops them with
SIGTERM. Finally every metric the section tells to alert on must be in ``/metrics``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import REPO
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

README = REPO / "README.md"
UNITS = REPO / "config" / "systemd"
SCRIPT_DIR = Path(sys.executable).parent
PASSWORD = "ein-langes-passwort-fuer-koordination"
ONLY = {"# on SQLite": "sqlite", "# on PostgreSQL": "postgresql"}


@dataclass(frozen=True)
class Block:
    lines: list[str]
    backend: str | None  # None: both


def section() -> str:
    readme = README.read_text(encoding="utf-8")
    return readme.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]


def sh_blocks(text: str) -> list[Block]:
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        lines = [line for line in body.splitlines() if line.strip()]
        backend = ONLY.get(lines[0].strip()) if lines else None
        blocks.append(Block([ln for ln in lines if not ln.lstrip().startswith("#")], backend))
    return blocks


def alerted_metrics(text: str) -> set[str]:
    return set(re.findall(r"`(ruhrflow_[a-z_]+)", text))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@dataclass
class Host:
    """The temporary stand-in for the host's directories, and how to rewrite paths."""

    root: Path
    port: int
    restore_db: str

    def rewrite(self, text: str) -> str:
        for path in ("/etc/ruhrflow", "/var/lib/ruhrflow", "/var/backups/ruhrflow"):
            text = text.replace(path, str(self.root / path.strip("/").replace("/", "_")))
        text = text.replace("/opt/ruhrflow/venv/bin/ruhrflow", str(SCRIPT_DIR / "ruhrflow"))
        text = text.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        text = text.replace("--port 8000", f"--port {self.port}")
        return text.replace("ruhrflow_restore_test", self.restore_db)

    @property
    def state(self) -> Path:
        return self.root / "var_lib_ruhrflow"


def exec_start(unit: str, host: Host) -> tuple[list[str], dict[str, str]]:
    """The unit's command and the variables its Environment= lines set."""
    text = (UNITS / unit).read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    variables = {}
    for env_line in text.splitlines():
        if env_line.startswith("Environment="):
            for item in shlex.split(host.rewrite(env_line.removeprefix("Environment="))):
                name, _, value = item.partition("=")
                variables[name] = value
    return shlex.split(host.rewrite(line.removeprefix("ExecStart="))), variables


@pytest.fixture
def services() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def restore_db(database_url: str) -> Iterator[str]:
    """The database the section restores into (PostgreSQL), dropped even when the test fails
    before the section's own ``dropdb``. (The clone's roles go with the clone: conftest.)"""
    name = f"ruhrflow_restore_{uuid.uuid4().hex[:8]}"
    yield name
    if database_url.startswith("postgresql"):
        engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()


@pytest.mark.skipif(not (SCRIPT_DIR / "ruhrflow").exists(), reason="ruhrflow is not installed")
def test_deploying_works_as_printed_on_a_fresh_database(
    database_url: str, tmp_path: Path, services: list[subprocess.Popen[bytes]], restore_db: str
) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    text = section()
    host = Host(tmp_path, free_port(), restore_db)
    for directory in ("etc_ruhrflow", "var_lib_ruhrflow", "var_backups_ruhrflow"):
        (tmp_path / directory).mkdir()  # what the bash block's `install -d` makes
    # given the section's configuration file
    (toml,) = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    (tmp_path / "etc_ruhrflow" / "ruhrflow.toml").write_text(host.rewrite(toml), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env.update(
        PATH=f"{SCRIPT_DIR}{os.pathsep}{env.get('PATH', '')}",
        RUHRFLOW_DATABASE_URL=database_url,  # what the env files would give
        RUHRFLOW_SMTP_PASSWORD="smtp-secret",
        KOORDINATION_PASSWORD=PASSWORD,
        PGHOST="127.0.0.1",
    )
    if backend == "postgresql":
        url = make_url(database_url)
        env.update(PGUSER=url.username or "postgres", PGPORT=str(url.port or 5432))
    # when each sh line runs in order, the services started where the bash block starts them
    started = False
    position = text.index("```sh")
    for block in sh_blocks(text):
        if block.backend not in (None, backend):
            continue
        block_at = text.index("\n".join(block.lines[:1]), position)
        if not started and text.find("systemctl enable --now", position, block_at) != -1:
            start_services(host, env, services)
            started = True
        position = block_at
        for line in block.lines:
            command = host.rewrite(line)
            if command.startswith("export "):
                name, _, value = command.removeprefix("export ").partition("=")
                env[name] = value
                continue
            done = subprocess.run(
                ["bash", "-c", command], cwd=host.state, env=env, capture_output=True, text=True
            )
            report = f"{command}\nexit {done.returncode}\n{done.stdout[-2000:]}{done.stderr}"
            assert done.returncode == 0, report
            assert "Traceback" not in done.stderr, report
    assert started, "the section starts the services (systemctl enable --now)"
    # then every metric the section tells to alert on is served
    base = f"http://127.0.0.1:{host.port}"
    status, metrics = get(f"{base}/metrics")
    assert status == 200
    served = set(re.findall(r"^(ruhrflow_[a-z_]+)", metrics, flags=re.MULTILINE))
    missing = {m for m in alerted_metrics(text) if not served & {m, f"{m}_bucket"}}
    assert not missing, (missing, metrics)
    # and both services stop cleanly, having logged one JSON object per line
    for proc in services:
        proc.send_signal(signal.SIGTERM)
    for proc in services:
        assert proc.wait(timeout=60) == 0
    for log in tmp_path.glob("*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["time"], (log.name, line)


def start_services(host: Host, env: dict[str, str], started: list[subprocess.Popen[bytes]]) -> None:
    """Start serve and the scheduler as their units do, and wait until /readyz says ready."""
    for unit in ("ruhrflow-web.service", "ruhrflow-scheduler.service"):
        command, variables = exec_start(unit, host)
        assert variables["RUHRFLOW_CONFIG"] == host.rewrite("/etc/ruhrflow/ruhrflow.toml")
        log = (host.root / f"{unit}.log").open("wb")
        started.append(
            subprocess.Popen(command, cwd=host.state, env={**env, **variables}, stderr=log)
        )
    deadline = time.monotonic() + 90
    body = ""
    while time.monotonic() < deadline:  # polling real services, not modelling time
        status, body = get(f"http://127.0.0.1:{host.port}/readyz")
        if status == 200:
            return
        assert all(p.poll() is None for p in started), body
        time.sleep(0.3)
    pytest.fail(f"not ready: {body}")


def test_the_section_names_the_settings_to_replace_and_what_to_keep() -> None:
    text = section()
    for needed in (
        "cabinet_session",
        "budget_deadline",
        ".example",
        "sender",
        "ruhrflow config check",
        "useradd",
        "config/systemd/",
        "docs/nginx-ruhrflow.conf",
        "ruhrflow db backup",
        "audit verify",
        "db new-installation",
        "RUHRFLOW_AUDIT_KEY",
        "audit checkpoint",
        "[retention]",
    ):
        assert needed in text, needed
    assert (REPO / "docs" / "nginx-ruhrflow.conf").is_file()
