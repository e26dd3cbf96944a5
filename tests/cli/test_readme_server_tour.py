"""The README's tour over the service works exactly as printed, in an empty directory.

The ```sh block of "The same tour over the service" runs line by line through bash, with the
installed ``ruhrflow`` and none of the caller's ``RUHRFLOW_*`` variables; ``ruhrflow serve``
is started as the daemon it is (on a free port instead of the printed one) and stopped with
SIGTERM at the end. A command documented to fail (``(exit N)`` in the comment below it) must
fail with that code and one ``error:`` line.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "README.md"
SCRIPT_DIR = Path(sys.executable).parent
EXIT_NOTE = re.compile(r"\(exit (\d+)\)\s*$")
PRINTED_PORT = "8765"


def server_tour(readme: str) -> list[tuple[str, int]]:
    """The commands of the section's ```sh block, each with the exit code the README promises."""
    section = readme.split("## The same tour over the service", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, int]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                note = EXIT_NOTE.search(line)
                if note and steps:
                    steps[-1] = (steps[-1][0], int(note.group(1)))
            elif line.strip():
                steps.append((line, 0))
    return steps


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@contextmanager
def _serving(command: str, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    """``ruhrflow serve …`` running until the block ends (it is up once gunicorn listens)."""
    command = command.split("#")[0].strip().removesuffix("&").strip()
    with subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stderr is not None
        seen: list[str] = []
        try:
            while True:  # waits for its output, never a fixed time
                ready, _, _ = select.select([server.stderr], [], [], 60)
                line = server.stderr.readline() if ready else ""
                if not line:
                    pytest.fail("the service did not come up:\n" + "".join(seen))
                seen.append(line)
                if "Listening at" in line:
                    break
            # keep reading its log, so that a full pipe never blocks it
            threading.Thread(target=server.stderr.read, daemon=True).start()
            yield
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            finally:
                if server.poll() is None:
                    server.kill()


@pytest.mark.skipif(not (SCRIPT_DIR / "ruhrflow").exists(), reason="ruhrflow is not installed")
def test_the_tour_over_the_service_works_as_printed(tmp_path: Path) -> None:
    # given the README's tour over the service, an empty directory and a free port
    steps = server_tour(README.read_text(encoding="utf-8"))
    assert any("ruhrflow serve" in command for command, _ in steps)
    assert sum("--server" in command for command, _ in steps) >= 15
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PATH"] = f"{SCRIPT_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # where `ruhrflow login` keeps the token
    with ExitStack() as stack:
        for command, code in steps:
            command = command.replace(PRINTED_PORT, port)
            if command.startswith("ruhrflow serve"):  # up from here to the end of the tour
                stack.enter_context(_serving(command, tmp_path, env))
                continue
            done = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            report = f"{command}\nexit {done.returncode}\n{done.stdout[-2000:]}{done.stderr}"
            # when each command runs, then each exits as the README says, with no traceback
            assert done.returncode == code, report
            assert "Traceback" not in done.stderr, report
            if code:
                assert done.stderr.startswith("error: "), report
                assert len(done.stderr.splitlines()) == 1, report
    # and the token file is its owner's alone
    token = tmp_path / "config" / "ruhrflow" / "token"
    assert token.stat().st_mode & 0o777 == 0o600
