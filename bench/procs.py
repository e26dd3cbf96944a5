"""Every child process, scratch database and scratch directory of a bench run — and their end,
however the run ends.

- Children start in their own session (``start_new_session``), so that one ``killpg`` ends a
  server with all of its workers (gunicorn forks them), and so that a Ctrl-C in the terminal
  reaches the bench alone, which then ends them in order.
- ``install`` (called by ``python -m bench``) turns SIGTERM, SIGINT and SIGHUP into
  ``SystemExit`` after sending SIGTERM to every child's group at once; the scenarios'
  ``finally`` blocks and an ``atexit`` hook then stop the children, drop the scratch
  databases and remove the scratch directories.
- A killed bench (SIGKILL, as ``subprocess.run(timeout=…)`` of a caller sends) runs no
  handler: for that a guardian process (``python -m bench.procs``, in its own session) holds
  a pipe from the bench and is told of each child group, scratch database and directory as
  it comes and goes. When the pipe closes — the bench ended, in whichever way — it ends every
  process still carrying the run's mark (``RUHRFLOW_BENCH_RUN`` in its environment, read
  from ``/proc``) and every registered group, drops the databases and removes the
  directories that are still registered, then exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MARK = "RUHRFLOW_BENCH_RUN"

_groups: dict[int, subprocess.Popen[Any]] = {}
_databases: dict[str, str] = {}  # scratch database name -> admin URL
_dirs: set[str] = set()
_guardian: list[subprocess.Popen[str]] = []
_installed: list[bool] = []
_drops: list[threading.Thread] = []


def _progress(message: str) -> None:
    from bench.support import progress

    progress(message)


def run_mark() -> str:
    """This run's mark (set in the environment, so every child inherits it)."""
    mark = os.environ.get(MARK)
    if not mark:
        mark = os.environ[MARK] = uuid.uuid4().hex
    return mark


def _tell(line: str) -> None:
    if not _guardian:
        return
    guardian = _guardian[0]
    try:
        assert guardian.stdin is not None
        guardian.stdin.write(line + "\n")
        guardian.stdin.flush()
    except (OSError, ValueError):  # the guardian is gone: the handlers still do the work
        pass


def install() -> None:
    """Signal handlers, the ``atexit`` teardown and the guardian (once per process)."""
    if _installed:
        return
    _installed.append(True)
    run_mark()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    atexit.register(teardown)
    _guardian.append(
        subprocess.Popen(
            [sys.executable, "-m", "bench.procs", str(os.getpid())],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # a Ctrl-C in the terminal must not end it first
        )
    )


def _on_signal(signum: int, frame: object) -> None:
    # first every group at once (the finally blocks below then wait for each in turn)
    for pgid in list(_groups):
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGTERM)
    _progress(f"signal {signal.Signals(signum).name}: stopping every child, dropping scratch data")
    raise SystemExit(128 + signum)


def spawn(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` in a session of its own, registered until :func:`stop`."""
    run_mark()
    proc: subprocess.Popen[Any] = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _groups[proc.pid] = proc
    _tell(f"group {proc.pid}")
    return proc


def stop(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """End ``proc`` and everything in its group: SIGTERM, then SIGKILL after ``timeout``.

    The leader is reaped only after the last SIGKILL to its group, so that the group id
    cannot have been handed to an unrelated process in between.
    """
    pgid = proc.pid
    if proc.returncode is None:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _exited(pgid):
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)  # the leader's stragglers (or a stuck leader)
        proc.wait()
    _groups.pop(pgid, None)
    _tell(f"ungroup {pgid}")


def _exited(pid: int) -> bool:
    """Whether the child ``pid`` has exited, without reaping it (its id stays taken)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def run(argv: Sequence[str], timeout: float | None = None, **kwargs: Any) -> tuple[int, str, str]:
    """Like ``subprocess.run(capture_output=True, text=True)``: (returncode, stdout, stderr);
    the child's whole group ends with it, whatever happens meanwhile."""
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop(proc, timeout=5.0)
    return proc.returncode, out, err


# --- scratch databases and directories --------------------------------------------------------


def create_database(admin_url: str) -> str:
    """A new scratch PostgreSQL database on the server of ``admin_url``: its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ruhrflow_bench_{uuid.uuid4().hex[:10]}"
    # registered before it exists: a signal between CREATE and the registration leaves nothing
    _databases[name] = admin_url
    _tell(f"db {name} {admin_url}")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    _progress(f"scratch database {name} created")
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the scratch database of ``url`` (made by :func:`create_database`), in the
    background: ``DROP DATABASE`` waits for a checkpoint, which took a minute on the shared
    machine's busy server; :func:`teardown` waits for every drop before the run ends."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    assert name is not None
    admin_url = _databases.get(name)
    if admin_url is None:
        return

    def drop() -> None:
        try:
            _drop(admin_url, name)
        except Exception as exc:  # teardown (and else the guardian) tries again
            print(f"[bench] could not drop {name}: {exc}", file=sys.stderr)
            return
        _databases.pop(name, None)
        _tell(f"undb {name}")
        _progress(f"scratch database {name} dropped")

    if not _installed:  # no teardown at exit to wait for it
        drop()
        return
    dropping = threading.Thread(target=drop, name=f"drop {name}", daemon=True)
    dropping.start()
    _drops.append(dropping)


def _drop(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def register_dir(path: Path) -> None:
    """A scratch directory to remove however the run ends."""
    _dirs.add(str(path))
    _tell(f"dir {path}")


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _dirs.discard(str(path))
    _tell(f"undir {path}")


def teardown() -> None:
    """Stop every child still running, drop every scratch database, remove every scratch
    directory (idempotent; at exit and on a signal)."""
    for proc in list(_groups.values()):
        stop(proc, timeout=5.0)
    for dropping in _drops:
        dropping.join(timeout=300)
    for name, admin_url in list(_databases.items()):
        try:
            _drop(admin_url, name)
            _databases.pop(name, None)
            _tell(f"undb {name}")
        except Exception as exc:  # the guardian tries again
            print(f"[bench] could not drop {name}: {exc}", file=sys.stderr)
    for path in list(_dirs):
        remove_dir(Path(path))


# --- the guardian -----------------------------------------------------------------------------


def _marked_processes(mark: str) -> list[int]:
    """Every process whose environment carries ``MARK=mark`` (Linux ``/proc``), but this one."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _guard(parent: int) -> None:
    """Read the bench's announcements until its pipe closes; then end what is left."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # it ends when its work is done
    groups: set[int] = set()
    databases: dict[str, str] = {}
    dirs: set[str] = set()
    for line in sys.stdin:
        what, _, rest = line.rstrip("\n").partition(" ")
        if what == "group":
            groups.add(int(rest))
        elif what == "ungroup":
            groups.discard(int(rest))
        elif what == "db":
            name, _, admin_url = rest.partition(" ")
            databases[name] = admin_url
        elif what == "undb":
            databases.pop(rest, None)
        elif what == "dir":
            dirs.add(rest)
        elif what == "undir":
            dirs.discard(rest)
    mark = os.environ.get(MARK, "")
    for attempt in range(50):
        alive = [pid for pid in _marked_processes(mark) if pid != parent] if mark else []
        if attempt == 0 or alive:
            sig = signal.SIGTERM if attempt < 30 else signal.SIGKILL
            for pgid in groups:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, sig)
            for pid in alive:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        if not alive and attempt > 0:
            break
        time.sleep(0.1)
    for name, admin_url in databases.items():
        for _ in range(3):
            try:
                _drop(admin_url, name)
                break
            except Exception:  # the server may still be ending the killed sessions
                time.sleep(1)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    _guard(int(sys.argv[1]))
