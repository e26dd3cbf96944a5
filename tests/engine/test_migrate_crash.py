"""A migration killed with SIGKILL: every proposal keeps the old version or has the new one.

Real ``ruhrflow migrate apply`` processes (``python -m workflow``) on SQLite and PostgreSQL,
killed after a random delay spread over a whole run (calibrated on this machine, so kills
land before, inside and after the transaction). After each kill:

- the batch is on version 3 or on version 4 as a whole (one transaction);
- within each proposal nothing is mixed: version 4 exactly when its last history entry is
  its one ``migration`` entry, and its state is where that last entry leads;
- its open deadlines belong to its state and follow its version's rules (the consultation
  lasts 21 days in version 3, 28 in version 4): closed and re-derived in the same
  transaction;
- ``ruhrflow audit verify`` (a subprocess) passes.

A rerun then finishes the work (exit 0), or is refused because it is done (exit 1).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO
from sqlalchemy import Connection, select, text
from support import definition_next_version

from workflow.app.bootstrap import register_definition
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput
from workflow.process.definition import load_definition
from workflow.process.vocabulary import BERLIN
from workflow.store.schema import deadlines, definitions, history, proposals

KILLS_PER_BACKEND = 10
BATCH = 600  # proposals per migration: a transaction long enough to be killed inside
OPENED = datetime(2019, 7, 1, 8, 0, tzinfo=UTC)
NOW_ARG = "2019-07-16T09:00"
CONSULTATION_DAYS = {3: 21, 4: 28}
SEED = int(os.environ.get("RUHRFLOW_CRASH_SEED", "8"))


def _batch(engine: Engine, forum: int) -> list[str]:
    """BATCH proposals on version 3: a third in idea, a third proposed, a third consulted."""
    item = ProposalInput(title="Migrationstest", handlungsfeld=2, themenforum=forum, lead="IM")
    keys = engine.create_proposals([item] * BATCH, actor="koordination", now=OPENED)
    engine.advance_many("submit", keys=keys[BATCH // 3 :], actor="koordination", now=OPENED)
    engine.advance_many(
        "open_consultation", keys=keys[2 * BATCH // 3 :], actor="koordination", now=OPENED
    )
    return keys


def _versions(conn: Connection) -> dict[int, int]:
    return {i: v for i, v in conn.execute(select(definitions.c.id, definitions.c.version))}


def _check(conn: Connection, keys: list[str]) -> int:
    """The invariants after a kill; returns the version the batch is on."""
    versions = _versions(conn)
    rows = conn.execute(
        select(
            proposals.c.id,
            proposals.c.key,
            proposals.c.state,
            proposals.c.definition_id,
            proposals.c.state_entered_at,
            history.c.kind,
            history.c.to_state,
        )
        .join(
            history,
            (history.c.chain == proposals.c.key) & (history.c.seq == proposals.c.history_seq),
        )
        .where(proposals.c.key.in_(keys))
    ).all()
    assert len(rows) == len(keys)
    on = {versions[r.definition_id] for r in rows}
    assert on in ({3}, {4}), f"half a migration: versions {on}"
    migrations = dict(
        conn.execute(
            select(history.c.chain, history.c.seq).where(
                history.c.chain.in_(keys), history.c.kind == "migration"
            )
        ).all()
    )
    by_id = {}
    for r in rows:
        version = versions[r.definition_id]
        assert r.to_state == r.state, f"{r.key}: state {r.state}, last entry to {r.to_state}"
        assert (r.kind == "migration") == (version == 4), f"{r.key}: {r.kind} on v{version}"
        assert (r.key in migrations) == (version == 4)
        by_id[r.id] = (r, version)
    open_rows = conn.execute(
        select(deadlines.c.proposal_id, deadlines.c.kind, deadlines.c.state, deadlines.c.due_at)
        .where(deadlines.c.proposal_id.in_(list(by_id)), deadlines.c.status == "open")
    ).all()  # fmt: skip
    consulting = {pid for pid, (r, _) in by_id.items() if r.state == "consultation"}
    assert {d.proposal_id for d in open_rows if d.kind == "consultation"} == consulting
    for d in open_rows:
        r, version = by_id[d.proposal_id]
        assert d.state == r.state, f"{r.key}: open {d.kind} of {d.state} in {r.state}"
        if d.kind == "consultation":
            entered = r.state_entered_at.astimezone(BERLIN).date()
            days = (d.due_at.astimezone(BERLIN).date() - entered).days
            assert days == CONSULTATION_DAYS[version], f"{r.key}: {days} days on v{version}"
    return on.pop()


def _spawn(url: str, config: Path, args: list[str], **kw: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "workflow", "--db", url, "--config", str(config),
            "--as", "koordination", "--now", NOW_ARG, *args]  # fmt: skip
    return subprocess.Popen(
        argv, env=env, stdout=kw.get("stdout", subprocess.DEVNULL), stderr=subprocess.PIPE
    )


def _settle(engine: Engine) -> None:
    """On PostgreSQL, wait until the killed client's backend has gone (its rollback done)."""
    if engine.store.dialect != "postgresql":
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.store.read() as conn:
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


def _verified(url: str, config: Path) -> None:
    proc = _spawn(url, config, ["audit", "verify"], stdout=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.startswith(b"ok: "), (out + err).decode()


@pytest.mark.slow
def test_a_migration_killed_at_random_points_leaves_old_or_new_never_a_mix(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-migrate-{engine.store.dialect}")
    config = tmp_path / "crash.toml"
    config.write_text(
        f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[security]\nallow_impersonation = true\n',
        encoding="utf-8",
    )
    # Given batches of running proposals on version 3, and version 4 registered
    batches = [_batch(engine, 30 + i) for i in range(KILLS_PER_BACKEND + 1)]
    register_definition(engine.store, load_definition(definition_next_version(tmp_path)), OPENED)

    def apply(keys: list[str]) -> subprocess.Popen[bytes]:
        args = ["migrate", "apply", "--to", "4", "--map", "ministry_review=ressortpruefung"]
        return _spawn(database_url, config, [*args, *keys])

    # Calibrate: how long a process needs to reach the database, and a whole migration.
    started = time.monotonic()
    probe = _spawn(database_url, config, ["migrate", "apply", "--to", "4", "RK-00-00"])
    probe.communicate(timeout=60)
    reach_db = time.monotonic() - started
    started = time.monotonic()
    _, err = apply(batches[0]).communicate(timeout=120)
    whole = time.monotonic() - started
    with engine.store.read() as conn:
        assert _check(conn, batches[0]) == 4, err.decode()

    outcomes = []
    upper = max(reach_db, whole)  # the latest a kill is aimed at
    for keys in batches[1:]:
        # when a migration is killed at a random point
        proc = apply(keys)
        started = time.monotonic()
        try:
            proc.wait(timeout=rng.uniform(0.8 * reach_db, upper))
            outcome = "finished before the kill"
            # the calibration ran on a busier machine than this run: aim the next kills earlier
            upper = max(reach_db, 0.9 * (time.monotonic() - started))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            outcome = "killed"
        if proc.stderr is not None:
            proc.stderr.close()
        _settle(engine)
        # then every proposal has the old or the new version, never a mix, and the audit holds
        with engine.store.read() as conn:
            version = _check(conn, keys)
        _verified(database_url, config)
        outcomes.append(f"{outcome}, on version {version}")
        # and a rerun finishes the work, or is refused because it is done
        rerun = apply(keys)
        _, err = rerun.communicate(timeout=120)
        assert rerun.returncode == (1 if version == 4 else 0), err.decode()
        with engine.store.read() as conn:
            assert _check(conn, keys) == 4
    _verified(database_url, config)
    print(f"{engine.store.dialect}: {outcomes}")
    assert any(o.startswith("killed") for o in outcomes), outcomes
