"""Issue 18.10: an auditor reads a SQLite file they may not write (workflow/store/readonly.py).

The tests run as root, whom file permissions do not stop. So the commands run in a real
process as the unprivileged user ``nobody`` (``setpriv``), on a copy of a database in a
directory ``nobody`` can enter; without root they run as the current user, whom the
permissions do stop. The database is SQLite's only: PostgreSQL grants are issue 18.6.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NOW, REPO
from support import add_proposal, walk_to

from workflow.app.runtime import open_runtime
from workflow.app.settings import load_settings
from workflow.store.readonly import read_only_file

NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory outside pytest's private tmp (0700), which ``nobody`` can enter."""
    path = Path(tempfile.mkdtemp(prefix="ruhrflow-ro-"))
    path.chmod(0o755)
    yield path
    for p in (path, *path.rglob("*")):
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


@pytest.fixture
def audited_file(sqlite_template: Path, shared_dir: Path) -> Path:
    """A SQLite file with two proposals and some history, closed (no -wal, no -shm)."""
    db = shared_dir / "db" / "ruhrflow.db"
    db.parent.mkdir()
    shutil.copyfile(sqlite_template, db)
    config = shared_dir / "ruhrflow.toml"
    config.write_text(f'[mail]\nmaildir = "{shared_dir / "mail"}"\n', encoding="utf-8")
    runtime = open_runtime(load_settings(config, database_url=f"sqlite:///{db}", env={}))
    try:
        key = add_proposal(runtime.engine, NOW)
        walk_to(runtime.engine, key, "consultation", NOW)
        add_proposal(runtime.engine, NOW, forum=5)
    finally:
        runtime.close()
    assert not db.with_name(db.name + "-wal").exists()
    return db


def ruhrflow(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a real process, as ``nobody`` when we are root."""
    prefix = AS_NOBODY if os.geteuid() == 0 else []
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to drop root's privileges")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "RUHRFLOW_CONFIG": str(db.parent.parent / "ruhrflow.toml"),
        "LC_ALL": "C.UTF-8",
    }
    argv = [*prefix, sys.executable, "-m", "workflow", "--db", f"sqlite:///{db}", *args]
    return subprocess.run(
        argv, env=env, cwd=db.parent.parent, capture_output=True, text=True, timeout=120
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_commands_work_on_a_file_in_a_directory_nobody_may_write(audited_file: Path) -> None:
    # given the file and its directory read-only (mode 0444 / 0555, owned by root)
    audited_file.chmod(0o444)
    audited_file.parent.chmod(0o555)
    before = digest(audited_file)
    # when an auditor without write access runs the read commands
    listed = ruhrflow(audited_file, "proposal", "list", "--format", "json")
    history = ruhrflow(audited_file, "history", "RK-03-01")
    verified = ruhrflow(audited_file, "audit", "verify")
    exported = ruhrflow(audited_file, "audit", "export", "--output", "-")
    # then they work
    for done in (listed, history, verified, exported):
        assert done.returncode == 0, done.stderr
    assert "RK-03-01" in listed.stdout and "RK-05-01" in listed.stdout
    assert "open_consultation" in history.stdout and "heads digest" in verified.stdout
    # and a write is refused in one line (exit 1), with nothing created or changed
    advanced = ruhrflow(audited_file, "--as", "koordination", "advance", "RK-05-01", "submit")
    assert advanced.returncode == 1, advanced.stderr
    assert advanced.stderr.startswith("error: the database file ")
    assert "is read-only for this user" in advanced.stderr
    assert len(advanced.stderr.splitlines()) == 1
    assert sorted(p.name for p in audited_file.parent.iterdir()) == ["ruhrflow.db"]
    assert digest(audited_file) == before


def test_read_commands_work_on_a_read_only_file_in_a_writable_directory(
    audited_file: Path,
) -> None:
    # given a read-only file in a directory the auditor may write (mode=ro, not immutable)
    audited_file.chmod(0o444)
    audited_file.parent.chmod(0o777 | stat.S_ISVTX)
    before = digest(audited_file)
    # when the auditor verifies and lists, then it works and the file is unchanged
    verified = ruhrflow(audited_file, "audit", "verify")
    listed = ruhrflow(audited_file, "proposal", "list")
    assert verified.returncode == 0 and listed.returncode == 0, verified.stderr + listed.stderr
    assert digest(audited_file) == before


def test_a_writable_file_is_opened_as_before(audited_file: Path) -> None:
    # read_only_file decides for the current user: as the owner the file is writable
    assert read_only_file(str(audited_file)) is None
    assert read_only_file(":memory:") is None
    assert read_only_file(str(audited_file.parent / "missing.db")) is None
