"""A killed bench leaves nothing behind: no server, no gunicorn worker, no bench child, no
scratch PostgreSQL database and no scratch directory (issue 29).

Each test starts ``python -m bench --quick --only …`` with its own run mark in the
environment (``bench.procs.MARK``, inherited by every child, gunicorn's workers included),
waits until the scenario has its servers or workers running, kills the bench and then looks
in ``/proc`` for any process still carrying the mark.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc"),
]

REPO = Path(__file__).resolve().parents[2]
MARK = "RUHRFLOW_BENCH_RUN"


class Bench:
    """A running ``python -m bench`` whose progress lines are collected as they come."""

    def __init__(self, tmp_path: Path, only: str, postgres_url: str | None) -> None:
        self.mark = f"test-{uuid.uuid4().hex}"
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(self.scratch))
        env[MARK] = self.mark
        env["RUHRFLOW_BENCH_TMP"] = str(self.scratch)
        if postgres_url:
            env["RUHRFLOW_BENCH_POSTGRES_URL"] = postgres_url
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench", "--quick", "--only", only],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 240) -> list[str]:
        """The first ``count`` progress lines matching ``pattern`` (waiting for them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no {count} × {pattern!r} in the bench's output:\n" + "\n".join(self.lines))

    def wait_for_processes(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` processes carry the run's mark (or ``timeout`` has passed)."""
        deadline = time.monotonic() + timeout
        while len(self.survivors()) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def kill(self, signum: int) -> None:
        """Send ``signum`` to the bench alone; wait until it and its guardian are done (the
        guardian holds the bench's stderr until it has cleaned up)."""
        os.kill(self.proc.pid, signum)
        self.proc.wait(timeout=120)
        self.reader.join(timeout=120)
        assert not self.reader.is_alive(), "the bench's guardian did not finish"

    def survivors(self) -> list[str]:
        """``pid: command`` of every process still carrying this run's mark."""
        needle = f"{MARK}={self.mark}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                if needle in environ.split(b"\0"):
                    command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                    found.append(f"{entry}: {command.decode(errors='replace')}")
            except OSError:
                continue
        return found

    def assert_nothing_left(self) -> None:
        left: list[str] = []
        for _ in range(50):  # a process killed a moment ago may still be on its way out
            left = self.survivors()
            if not left:
                break
            time.sleep(0.2)
        assert left == [], "processes of the killed bench survive:\n" + "\n".join(self.lines)
        assert list(self.scratch.iterdir()) == [], "scratch files survive"


def _databases(admin_url: str) -> set[str]:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def _scratch_names(bench: Bench) -> list[str]:
    return [
        m.group(1)
        for line in bench.lines
        if (m := re.search(r"scratch database (ruhrflow_bench_\w+) created", line))
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_killed_bench_leaves_no_gunicorn_server_behind(tmp_path: Path, signum: int) -> None:
    bench = Bench(tmp_path, "web_load", os.environ.get("RUHRFLOW_TEST_POSTGRES_URL"))
    # the bare Flask route and ruhrflow serve (on SQLite), both gunicorn with 4 workers
    bench.wait_for(r"server up on port", count=2)
    # the bench, its guardian, 2 gunicorn masters and their 8 workers (still booting, some)
    bench.wait_for_processes(2 + 2 * 5)
    assert len(bench.survivors()) >= 2 + 2 * 2
    bench.kill(signum)
    bench.assert_nothing_left()


def test_a_killed_bench_drops_its_postgres_database_and_servers(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    bench = Bench(tmp_path, "web_load", postgres_admin_url)
    bench.wait_for(r"scratch database ruhrflow_bench_\w+ created")
    # the bare server runs throughout; the second ruhrflow server is the PostgreSQL one
    bench.wait_for(r"server up on port .*ruhrflow serve", count=2)
    (name,) = _scratch_names(bench)
    assert name in _databases(postgres_admin_url)
    bench.kill(signal.SIGTERM)
    bench.assert_nothing_left()
    assert name not in _databases(postgres_admin_url)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_bench_ends_its_postgres_workers(
    tmp_path: Path, postgres_admin_url: str, signum: int
) -> None:
    bench = Bench(tmp_path, "postgres", postgres_admin_url)
    bench.wait_for(r"1 process ×")
    bench.wait_for_processes(3)  # the bench, its guardian and the worker
    assert len(bench.survivors()) >= 3
    (name,) = _scratch_names(bench)
    bench.kill(signum)
    bench.assert_nothing_left()
    assert name not in _databases(postgres_admin_url)
