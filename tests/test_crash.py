"""Crashes: real ``ruhrflow`` processes killed with SIGKILL at random points.

For every backend the harness runs commands from ``CRASH_COMMANDS`` as subprocesses and
kills each after a random delay spread over a whole run (calibrated per command on this
machine, so kills land before, inside and after the transaction). After each kill:

- every chain is sound (``chain_check`` — replace with ``ruhrflow audit verify`` after the
  audit merge): ``history_seq`` = number of entries, head hash = last entry, state = the
  last entry's target state;
- the command's own all-or-nothing check holds (a bulk advance or an import is complete
  or absent);
- re-running the same command finishes the work, or is refused cleanly because it is
  done already, and afterwards every change exists exactly once.

Adding a command is one line in ``CRASH_COMMANDS``, e.g. after the scheduler and the
outbox merges::

    CrashCommand("scheduler tick", lambda w: Job(["scheduler", "tick"], rerun_codes={0})),
    CrashCommand("notices send", lambda w: Job(["notices", "send"], rerun_codes={0})),

(their specific checks — every state change has its notices, no notice sent twice — go
into ``after_kill``/``after_rerun`` of their Job.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain_check import chain_problems
from click.testing import CliRunner
from conftest import NOW, REPO
from sqlalchemy import Connection, func, select, text
from support import add_proposal

from workflow.cli.main import cli
from workflow.engine import Engine
from workflow.intake import ProposalInput, create_proposals
from workflow.store.schema import history, proposals

KILLS_PER_BACKEND = 15
BULK_SIZE = 300
IMPORT_SIZE = 150
NOW_ARG = "2019-07-16T09:00"
SEED = int(os.environ.get("RUHRFLOW_CRASH_SEED", "8"))


@dataclass
class Job:
    """One run of a command: its CLI arguments and what must hold after a kill and a rerun."""

    args: list[str]
    rerun_codes: set[int] = field(default_factory=lambda: {0})
    # checks after a kill; returns whether the work was committed (None: cannot tell)
    after_kill: Callable[[Connection], bool | None] | None = None
    after_rerun: Callable[[Connection], None] | None = None


@dataclass
class World:
    """What a command's preparation can use: the engine of the database and a work dir."""

    engine: Engine
    tmp_path: Path
    batch: int = 0

    def next_batch(self) -> int:
        self.batch += 1
        return self.batch


@dataclass(frozen=True)
class CrashCommand:
    name: str
    prepare: Callable[[World], Job]


# --- the commands and their invariants ---------------------------------------------------


def _states(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(select(proposals.c.key, proposals.c.state).where(proposals.c.key.in_(keys)))
    return {k: s for k, s in rows}


def _transitions(conn: Connection, keys: Sequence[str], trigger: str) -> dict[str, int]:
    stmt = (
        select(history.c.chain, func.count())
        .where(history.c.chain.in_(keys), history.c.trigger == trigger)
        .group_by(history.c.chain)
    )
    return {k: n for k, n in conn.execute(stmt)}


def advance_job(keys: list[str]) -> Job:
    """``advance KEY… submit``: all proposals move together or none does, each once."""

    def after_kill(conn: Connection) -> bool:
        states = set(_states(conn, keys).values())
        assert states in ({"idea"}, {"proposed"}), f"half a bulk advance: {states}"
        assert set(_transitions(conn, keys, "submit").values()) <= {1}
        return states == {"proposed"}

    def after_rerun(conn: Connection) -> None:
        assert set(_states(conn, keys).values()) == {"proposed"}
        assert _transitions(conn, keys, "submit") == dict.fromkeys(keys, 1)

    # rerun: 0 = applied now, 1 = refused because every proposal is in 'proposed' already
    return Job(["advance", *keys, "submit"], {0, 1}, after_kill, after_rerun)


def prepare_advance(world: World) -> Job:
    return advance_job([add_proposal(world.engine, NOW, forum=11)])


def prepare_bulk_advance(world: World) -> Job:
    item = ProposalInput(title="Absturztest", handlungsfeld=2, themenforum=12, lead="IM")
    keys = create_proposals(world.engine, [item] * BULK_SIZE, actor="koordination", now=NOW)
    return advance_job(keys)


def prepare_import(world: World) -> Job:
    batch = world.next_batch()
    keys = [f"RK-C{batch:02d}-{i:03d}" for i in range(IMPORT_SIZE)]
    path = world.tmp_path / f"import-{batch}.csv"
    lines = ["key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary"]
    lines += [f"{k},Testvorschlag {k},2,4,MWIDE,IM;VM,250000,Absturztest" for k in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def after_kill(conn: Connection) -> bool:
        present = len(_states(conn, keys))
        assert present in (0, IMPORT_SIZE), f"partial import: {present} of {IMPORT_SIZE}"
        return present == IMPORT_SIZE

    def after_rerun(conn: Connection) -> None:
        assert set(_states(conn, keys).values()) == {"idea"}
        assert _transitions(conn, keys, "create") == dict.fromkeys(keys, 1)

    # rerun: 0 = imported now, 2 = refused because the keys exist already
    return Job(["proposal", "import", str(path)], {0, 2}, after_kill, after_rerun)


CRASH_COMMANDS: list[CrashCommand] = [
    CrashCommand("advance", prepare_advance),
    CrashCommand("bulk advance", prepare_bulk_advance),
    CrashCommand("proposal import", prepare_import),
    # after issue 3: CrashCommand("scheduler tick", lambda w: Job(["scheduler", "tick"])),
    # after issue 4: CrashCommand("notices send", lambda w: Job(["notices", "send"])),
]


# --- the harness -------------------------------------------------------------------------


def _global_args(url: str, config: Path) -> list[str]:
    return ["--db", url, "--config", str(config), "--as", "koordination", "--now", NOW_ARG]


def _spawn(url: str, config: Path, args: list[str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "workflow", *_global_args(url, config), *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _settle(world: World) -> None:
    """On PostgreSQL, wait until the killed client's backend has gone (its rollback done)."""
    store = world.engine.store
    if store.dialect != "postgresql":
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with store.read() as conn:
            busy = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
            ).scalar_one()
        if busy == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the killed client's database session never ended")


def _check(
    world: World, job_check: Callable[[Connection], bool | None] | None, *, chains: bool = True
) -> bool | None:
    """The job's own check and (unless ``chains`` is false) every chain of the database."""
    with world.engine.store.read() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for all the checks
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        if chains:
            assert chain_problems(conn, world.engine.audit_key) == []
        return job_check(conn) if job_check is not None else None


def _rerun(url: str, config: Path, job: Job) -> None:
    result = CliRunner().invoke(cli, [*_global_args(url, config), *job.args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in job.rerun_codes, (job.args[:2], result.exit_code, result.output)


def test_commands_killed_at_random_points_leave_consistent_data(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{engine.store.dialect}")
    config = tmp_path / "crash.toml"
    config.write_text(
        f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[security]\nallow_impersonation = true\n',
        encoding="utf-8",
    )
    world = World(engine, tmp_path)
    # Calibrate on this machine: how long a process takes to reach the database (a command
    # that fails at once), and how long each whole command takes; kills land in between.
    started = time.monotonic()
    probe = _spawn(database_url, config, ["advance", "RK-00-00", "submit"])
    probe.communicate(timeout=60)
    reach_db = time.monotonic() - started
    duration: dict[str, float] = {}
    for command in CRASH_COMMANDS:
        job = command.prepare(world)
        started = time.monotonic()
        proc = _spawn(database_url, config, job.args)
        _, stderr = proc.communicate(timeout=60)
        duration[command.name] = time.monotonic() - started
        assert proc.returncode == 0, stderr.decode()
        _check(world, job.after_rerun, chains=False)

    outcomes: list[tuple[str, float, str]] = []
    for i in range(KILLS_PER_BACKEND):
        command = CRASH_COMMANDS[i % len(CRASH_COMMANDS)]
        job = command.prepare(world)
        delay = rng.uniform(0.8 * reach_db, max(reach_db, duration[command.name]))
        proc = _spawn(database_url, config, job.args)
        try:
            proc.wait(timeout=delay)
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
            outcome = "finished before the kill"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            outcome = "killed"
        if proc.stderr is not None:
            proc.stderr.close()
        _settle(world)
        # after the kill: sound chains, and the command's work is all there or not at all
        committed = _check(world, job.after_kill)
        if outcome == "killed":
            outcome += {True: ", committed", False: ", rolled back", None: ""}[committed]
        # re-running finishes the work (or is refused as done), without duplicates
        _rerun(database_url, config, job)
        _check(world, job.after_rerun, chains=False)  # the chains: after the next kill
        outcomes.append((command.name, round(delay, 2), outcome))
    _check(world, None)
    print(f"\ncrash outcomes on {engine.store.dialect} (seed {SEED}):", *outcomes, sep="\n  ")
