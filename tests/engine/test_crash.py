"""Crashes: real ``ruhrflow`` processes killed with SIGKILL at random points.

For every backend the harness runs commands from ``CRASH_COMMANDS`` as subprocesses and
kills each after a random delay spread over a whole run (calibrated per command on this
machine, so kills land before, inside and after its transactions). The commands:
``advance``, a bulk ``advance``, ``proposal import``, ``notices send`` (hundreds of
pending notices, Maildir transport) and ``scheduler tick`` (proposals whose consultation
rungs are all due; the tick fires them and delivers every pending notice).

After each kill:

- ``ruhrflow audit verify``, run as a subprocess, passes (every chain recomputes, and
  ends where its proposal row says), and every proposal is in the state its last history
  entry leads to — no half transitions;
- the notices match the history exactly (they are written in the same transaction): a
  ``status_change`` (and ``consultation_opened``) outbox row exists for a transition
  exactly when its history entry does, a ``deadline-rung:N`` row exactly when rung N
  fired, and each fired rung has exactly one history entry; a notice is ``sent`` exactly
  when its ``notice_sent`` history entry exists; each idempotency key is in the outbox
  once; each Message-ID is in the Maildir at most twice (a kill between sending and
  marking a notice sends it once more after its lease), and only for notices that went
  out (or were going out at the kill);
- the command's own all-or-nothing check holds (a bulk advance or an import is complete
  or absent).

Re-running the same command then finishes the work (or is refused cleanly because it is
done already), and afterwards every change exists exactly once. ``notices send`` and
``scheduler tick`` are re-run just after the delivery lease (``--now`` 11 minutes later):
a notice whose sender was killed mid-send stays ``sending`` until then, by design.

Adding a command is one entry in ``CRASH_COMMANDS``: a function that prepares the data
and returns the ``Job`` (arguments, its checks after the kill and after the rerun).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import NOW, REPO
from sqlalchemy import Connection, and_, func, select, text
from support import add_proposal

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput
from workflow.notices.delivery import DEFAULT_LEASE
from workflow.store.schema import deadline_rungs, deadlines, history, outbox, proposals

KILLS_PER_BACKEND = 15
BULK_SIZE = 150
IMPORT_SIZE = 150
SEND_SIZE = 50  # own notices of a `notices send` job (besides those other jobs left)
TICK_SIZE = 20  # proposals of a `scheduler tick` job, three rungs each
NOW_ARG = "2019-07-16T09:00"
# Past the lease of a notice whose sender was killed between sending and marking it.
LATER_ARG = (datetime.fromisoformat(NOW_ARG) + DEFAULT_LEASE + timedelta(minutes=1)).isoformat()
# The scheduler jobs' proposals enter the consultation on 3 June: its rungs (remind 7d and
# 1d before the end on 24 June, escalate 2 working days after) are all due at NOW_ARG, the
# escalation of the forum submission (17 July) of the proposals still in 'idea' is not.
CONSULTATION_OPENED = datetime(2019, 6, 3, 8, 0, tzinfo=UTC)
SEED = int(os.environ.get("RUHRFLOW_CRASH_SEED", "8"))


@dataclass
class Job:
    """One run of a command: its CLI arguments and what must hold after a kill and a rerun."""

    args: list[str]
    rerun_codes: set[int] = field(default_factory=lambda: {0})
    # checks after a kill; returns whether the work was committed (None: partly)
    after_kill: Callable[[Connection], bool | None] | None = None
    after_rerun: Callable[[Connection], None] | None = None
    rerun_now: str = NOW_ARG


@dataclass
class World:
    """What a command's preparation can use: the engine of the database and a work dir."""

    engine: Engine
    tmp_path: Path
    batch: int = 0
    # Message-ID of every Maildir file read so far (files are never rewritten)
    mail_ids: dict[str, str] = field(default_factory=dict)

    @property
    def maildir(self) -> Path:
        return self.tmp_path / "mail"

    def next_batch(self) -> int:
        self.batch += 1
        return self.batch

    def message_ids(self) -> Counter[str]:
        """How often each Message-ID was delivered into the Maildir (new/ and cur/)."""
        parser = BytesHeaderParser()
        for sub in ("new", "cur"):
            directory = self.maildir / sub
            if not directory.is_dir():
                continue
            for path in directory.iterdir():
                if path.name not in self.mail_ids:
                    with path.open("rb") as fh:
                        self.mail_ids[path.name] = str(parser.parse(fh)["Message-ID"])
        return Counter(self.mail_ids.values())


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
    keys = world.engine.create_proposals([item] * BULK_SIZE, actor="koordination", now=NOW)
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


def _outbox_statuses(conn: Connection, keys: Sequence[str] | None = None) -> Counter[str]:
    stmt = select(outbox.c.status)
    if keys is not None:
        stmt = stmt.join(proposals, proposals.c.id == outbox.c.proposal_id).where(
            proposals.c.key.in_(keys)
        )
    return Counter(conn.execute(stmt).scalars())


def _all_sent(conn: Connection) -> None:
    statuses = _outbox_statuses(conn)
    assert set(statuses) <= {"sent"}, f"notices left undelivered: {dict(statuses)}"


def prepare_send(world: World) -> Job:
    """``notices send`` with the notices of SEND_SIZE fresh transitions (and what else waits)."""
    engine = world.engine
    item = ProposalInput(title="Zustelltest", handlungsfeld=1, themenforum=14, lead="VM")
    keys = engine.create_proposals([item] * SEND_SIZE, actor="koordination", now=NOW)
    engine.advance_many("submit", keys=keys, actor="koordination", now=NOW)

    def after_kill(conn: Connection) -> bool | None:
        assert sum(_outbox_statuses(conn, keys).values()) == SEND_SIZE
        statuses = _outbox_statuses(conn)  # the notices other jobs left are sent too
        if set(statuses) == {"sent"}:
            return True
        return False if not _outbox_statuses(conn, keys)["sent"] else None

    return Job(["notices", "send"], {0}, after_kill, _all_sent, rerun_now=LATER_ARG)


def _tick_rungs(conn: Connection, keys: Sequence[str]) -> Counter[bool]:
    """The consultation rungs of ``keys``: how many fired (True) and how many not (False)."""
    stmt = (
        select(deadline_rungs.c.fired_at.is_not(None))
        .join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(proposals.c.key.in_(keys), deadlines.c.kind == "consultation")
    )
    return Counter(bool(fired) for fired in conn.execute(stmt).scalars())


def prepare_tick(world: World) -> Job:
    """``scheduler tick`` with TICK_SIZE proposals whose three consultation rungs are due."""
    engine = world.engine
    item = ProposalInput(title="Fristtest", handlungsfeld=2, themenforum=13, lead="MWIDE")
    at = CONSULTATION_OPENED
    keys = engine.create_proposals([item] * TICK_SIZE, actor="koordination", now=at)
    for trigger in ("submit", "open_consultation"):
        engine.advance_many(trigger, keys=keys, actor="koordination", now=at)

    def after_kill(conn: Connection) -> bool | None:
        rungs = _tick_rungs(conn, keys)
        assert sum(rungs.values()) == 3 * TICK_SIZE
        return True if not rungs[False] else False if not rungs[True] else None

    def after_rerun(conn: Connection) -> None:
        assert _tick_rungs(conn, keys) == {True: 3 * TICK_SIZE}
        _all_sent(conn)

    return Job(["scheduler", "tick"], {0}, after_kill, after_rerun, rerun_now=LATER_ARG)


CRASH_COMMANDS: list[CrashCommand] = [
    CrashCommand("advance", prepare_advance),
    CrashCommand("bulk advance", prepare_bulk_advance),
    CrashCommand("proposal import", prepare_import),
    CrashCommand("notices send", prepare_send),
    CrashCommand("scheduler tick", prepare_tick),
]


# --- what must hold for the whole database after every kill -------------------------------


def half_transitions(conn: Connection) -> list[str]:
    """Proposals whose state is not where their last history entry leads."""
    stmt = select(proposals.c.key, proposals.c.state, history.c.to_state).join(
        history,
        and_(history.c.chain == proposals.c.key, history.c.seq == proposals.c.history_seq),
        isouter=True,
    )
    return [f"{k}: state {s!r}, last entry to {t!r}" for k, s, t in conn.execute(stmt) if s != t]


def notice_problems(conn: Connection, delivered: Counter[str]) -> list[str]:
    """Where the outbox, the history and the Maildir (``delivered``) disagree."""
    problems: list[str] = []
    entries = conn.execute(
        select(history.c.chain, history.c.seq, history.c.kind, history.c.trigger, history.c.data)
    ).all()
    notices = conn.execute(
        select(outbox.c.id, outbox.c.idempotency_key, outbox.c.proposal_id, outbox.c.status,
               outbox.c.message_id)
    ).all()  # fmt: skip
    keys = Counter(n.idempotency_key for n in notices)
    problems += [f"idempotency key {k} {n} times" for k, n in keys.items() if n > 1]
    # a transition has its notices exactly when it committed (one transaction)
    expected = set()
    for e in entries:
        if e.kind == "transition":
            expected.add(f"transition:{e.chain}:{e.seq}:status_change")
            if e.trigger == "open_consultation":
                expected.add(f"transition:{e.chain}:{e.seq}:consultation_opened")
    actual = {k for k in keys if k.startswith("transition:")}
    problems += [f"transition without its notice: {k}" for k in sorted(expected - actual)]
    problems += [f"notice without its transition: {k}" for k in sorted(actual - expected)]
    # a rung fired at most once, with one history entry and one notice
    fired = conn.execute(
        select(deadline_rungs.c.id, proposals.c.key, deadlines.c.kind, deadline_rungs.c.rung)
        .join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(deadline_rungs.c.fired_at.is_not(None))
    ).all()
    # (a rung skipped in a catch-up has its history entry, rung_skipped, and no notice)
    rung_entries = Counter(
        (e.chain, e.trigger)
        for e in entries
        if e.kind in ("reminder", "escalation", "rung_skipped")
    )
    if rung_entries != Counter((r.key, f"{r.kind}.{r.rung}") for r in fired):
        problems.append("fired rungs and their history entries differ")
    skipped = {(e.chain, e.trigger) for e in entries if e.kind == "rung_skipped"}
    rung_notices = {k for k in keys if k.startswith("deadline-rung:")}
    mailed = {
        f"deadline-rung:{r.id}" for r in fired if (r.key, f"{r.kind}.{r.rung}") not in skipped
    }
    if rung_notices != mailed:
        problems.append("fired rungs and their notices differ")
    # a notice is sent exactly when its history says so; the Maildir has it once, or twice
    # when its sender was killed between sending and marking it
    sent_entries = Counter(e.data["notice"] for e in entries if e.kind == "notice_sent")
    problems += [f"a notice_failed entry: {e.chain}#{e.seq}" for e in entries
                 if e.kind == "notice_failed"]  # fmt: skip
    by_message_id = {n.message_id: n for n in notices}
    for n in notices:
        if n.proposal_id is not None and sent_entries[n.id] != (n.status == "sent"):
            problems.append(f"notice {n.id} is {n.status} with {sent_entries[n.id]} sent entries")
        copies = delivered[n.message_id]
        allowed = {"sent": (1, 2), "sending": (0, 2), "pending": (0, 0)}.get(n.status, (0, 0))
        if not allowed[0] <= copies <= allowed[1]:
            problems.append(f"notice {n.id} ({n.status}) is {copies} times in the Maildir")
    problems += [f"mail {m} of no notice" for m in delivered if m not in by_message_id]
    return problems


# --- the harness -------------------------------------------------------------------------


def _global_args(url: str, config: Path, now: str = NOW_ARG) -> list[str]:
    return ["--db", url, "--config", str(config), "--as", "koordination", "--now", now]


def _spawn(
    url: str, config: Path, args: list[str], *, stdout: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "workflow", *_global_args(url, config), *args]
    return subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)


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


def _check(world: World, job_check: Callable[[Connection], Any] | None) -> Any:
    """The job's own check and the invariants of the whole database, on one snapshot."""
    delivered = world.message_ids()  # before the snapshot: a mail never precedes its row
    with world.engine.store.read() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for all the checks
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        assert half_transitions(conn) == []
        assert notice_problems(conn, delivered) == []
        return job_check(conn) if job_check is not None else None


def _verified(url: str, config: Path) -> None:
    """``ruhrflow audit verify`` as a subprocess: it must pass."""
    proc = _spawn(url, config, ["audit", "verify"], stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.startswith(b"ok: "), (out + err).decode()


def _rerun(url: str, config: Path, job: Job) -> None:
    result = CliRunner().invoke(cli, [*_global_args(url, config, job.rerun_now), *job.args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in job.rerun_codes, (job.args[:2], result.exit_code, result.output)


@pytest.mark.slow
def test_commands_killed_at_random_points_leave_consistent_data(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{engine.store.dialect}")
    config = tmp_path / "crash.toml"
    world = World(engine, tmp_path)
    config.write_text(
        f'[mail]\nmaildir = "{world.maildir}"\n[security]\nallow_impersonation = true\n',
        encoding="utf-8",
    )
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
        _check(world, job.after_rerun)

    outcomes: list[tuple[str, float, str]] = []
    for i in range(KILLS_PER_BACKEND):
        command = CRASH_COMMANDS[i % len(CRASH_COMMANDS)]
        job = command.prepare(world)
        delay = rng.uniform(0.8 * reach_db, max(reach_db, duration[command.name]))
        proc = _spawn(database_url, config, job.args)
        started = time.monotonic()
        try:
            proc.wait(timeout=delay)
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
            outcome = "finished before the kill"
            # the calibration ran on a busier machine than this run: aim the next kills earlier
            duration[command.name] = 0.9 * (time.monotonic() - started)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            outcome = "killed"
        if proc.stderr is not None:
            proc.stderr.close()
        _settle(world)
        # after the kill: the audit passes, the notices match the history, the command's
        # work is all there or not at all
        verify = _spawn(database_url, config, ["audit", "verify"], stdout=subprocess.PIPE)
        committed = _check(world, job.after_kill)
        out, err = verify.communicate(timeout=120)
        assert verify.returncode == 0 and out.startswith(b"ok: "), (out + err).decode()
        if outcome == "killed":
            outcome += {True: ", committed", False: ", rolled back", None: ", partly done"}[
                committed
            ]
            with engine.store.read() as conn:
                sending = _outbox_statuses(conn)["sending"]
            if sending:  # killed between claiming (or sending) and marking a notice
                outcome += f", {sending} notice(s) left sending"
        # re-running finishes the work (or is refused as done), without duplicates
        _rerun(database_url, config, job)
        _check(world, job.after_rerun)
        outcomes.append((command.name, round(delay, 2), outcome))
    _verified(database_url, config)
    # the run proved something only if kills landed while commands ran
    assert any(o.startswith("killed") for _, _, o in outcomes), outcomes
    duplicates = sum(n - 1 for n in world.message_ids().values())
    outcomes.append(("mails sent twice (same Message-ID)", 0, str(duplicates)))
    print(f"\ncrash outcomes on {engine.store.dialect} (seed {SEED}):", *outcomes, sep="\n  ")
