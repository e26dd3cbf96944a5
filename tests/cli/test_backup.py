"""``ruhrflow db backup`` and ``ruhrflow notices prune`` (issue #26)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from support import add_proposal, walk_to

from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.store.copies import pg_dump_command
from workflow.store.db import Store
from workflow.store.schema import outbox


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def verified(url: str) -> None:
    code, out, err = run("--db", url, "audit", "verify")
    assert code == 0, out + err


def test_an_sqlite_backup_taken_while_a_writer_is_busy_is_consistent_and_verifies(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the online backup API is SQLite's; PostgreSQL: the next test")
    # given history in the WAL (not checkpointed) and a writer in the middle of a transaction
    add_proposal(engine, NOW, key="RK-03-01")
    walk_to(engine, "RK-03-01", "consultation", NOW)
    path = Path(make_url(database_url).database or "")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE proposals SET title = 'not committed' WHERE key = 'RK-03-01'")
    try:
        # when the backup is taken
        copy = tmp_path / "copy.db"
        code, out, err = run("--db", database_url, "db", "backup", "--output", str(copy))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    # then it is one file with everything committed and nothing uncommitted, owner-only
    assert code == 0, out + err
    assert "restore it and run `ruhrflow audit verify`" in out
    assert not (tmp_path / "copy.db-wal").exists()
    assert copy.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(copy) as conn:
        (title,) = conn.execute("SELECT title FROM proposals WHERE key = 'RK-03-01'").fetchone()
        (entries,) = conn.execute("SELECT count(*) FROM history").fetchone()
    assert title != "not committed" and entries >= 3
    # and audit verify accepts the copy
    verified(f"sqlite:///{copy}")


def test_a_postgresql_backup_is_a_pg_dump_that_restores_and_verifies(
    engine: Engine, database_url: str, tmp_path: Path, postgres_admin_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_dump is PostgreSQL's; SQLite: the test before")
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is missing (apt-get install postgresql-client)")
    add_proposal(engine, NOW, key="RK-03-01")
    walk_to(engine, "RK-03-01", "consultation", NOW)
    dump = tmp_path / "ruhrflow.dump"
    # when the backup is taken, as JSON
    code, out, err = run("--db", database_url, "db", "backup", "--output", str(dump),
                         "--format", "json")  # fmt: skip
    assert code == 0, out + err
    assert json.loads(out)["format"] == "custom" and dump.stat().st_size > 0
    # then it restores into an empty database, where audit verify accepts it
    name = f"ruhrflow_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        target = make_url(postgres_admin_url).set(database=name)
        libpq = target.set(drivername="postgresql").render_as_string(hide_password=False)
        restored = subprocess.run(
            ["pg_restore", "--no-owner", "--no-privileges", f"--dbname={libpq}", str(dump)],
            capture_output=True,
            text=True,
        )
        assert restored.returncode == 0, restored.stderr
        verified(target.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_without_pg_dump_the_command_to_run_is_printed_and_the_exit_is_3(
    database_url: str, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://ruhrflow:s3cret-pass@db.example:5433/ruhrflow"
    # given a machine without pg_dump
    empty = tmp_path / "bin"
    empty.mkdir()
    code, out, err = run("--db", url, "db", "backup", "--output", str(tmp_path / "x.dump"),
                         env={"PATH": str(empty)})  # fmt: skip
    # then the documented command, without the password, and exit 3
    assert code == 3
    assert (
        "pg_dump --format=custom" in err and "postgresql://ruhrflow@db.example:5433/ruhrflow" in err
    )
    assert "s3cret" not in err + out
    assert not (tmp_path / "x.dump").exists()  # no empty file left to block the next try
    assert pg_dump_command(url, Path("x"))[-1] == (
        "--dbname=postgresql://ruhrflow@db.example:5433/ruhrflow"
    )
    assert database_url  # runs once per backend: the refusal needs no database at all


def test_an_existing_output_file_is_never_overwritten(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    code, _, err = run("--db", database_url, "db", "backup", "--output", str(target))
    assert code == 2 and "exists" in err
    assert target.read_text() == "keep me"


def _notice(key: str, status: str, sent_days_ago: int | None) -> dict[str, object]:
    sent = NOW - timedelta(days=sent_days_ago) if sent_days_ago is not None else None
    return {
        "idempotency_key": key, "kind": "transition", "recipients": [{"address": "a@b.example"}],
        "subject": f"Betreff {key}", "body_text": "Text", "body_html": "<p>Text</p>",
        "attachments": [], "status": status, "attempts": 1, "next_attempt_at": NOW,
        "message_id": f"<{key}@x.example>", "created_at": sent or NOW, "sent_at": sent,
    }  # fmt: skip


def test_prune_removes_the_text_of_old_sent_mails_and_keeps_everything_else(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    # given an old and a recent sent notice, and an old failed one
    with store.write() as conn:
        conn.execute(insert(outbox), [
            _notice("old", "sent", 400), _notice("new", "sent", 10),
            _notice("failed", "failed", None),
        ])  # fmt: skip
    config = tmp_path / "retention.toml"
    config.write_text("[retention]\nmail_body_days = 365\n")
    base = ["--config", str(config), "--db", database_url, "--now", NOW.isoformat()]
    # when a dry run is asked for, then it counts and changes nothing
    code, out, err = run(*base, "notices", "prune", "--dry-run", "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["notices"] == 1 and json.loads(out)["dry_run"] is True
    # when it runs, then only the old sent one loses its text, HTML and attachments
    code, out, err = run(*base, "notices", "prune")
    assert code == 0, out + err
    assert "pruned the mail text of 1 notice(s)" in out
    with store.read() as conn:
        rows = {
            r.idempotency_key: r
            for r in conn.execute(
                select(outbox.c.idempotency_key, outbox.c.subject, outbox.c.body_text,
                       outbox.c.body_html, outbox.c.attachments, outbox.c.status)
            )
        }  # fmt: skip
    assert (rows["old"].body_text, rows["old"].body_html, rows["old"].attachments) == (
        None,
        None,
        None,
    )
    assert rows["old"].subject == "Betreff old" and rows["old"].status == "sent"
    assert rows["new"].body_text == "Text" and rows["failed"].body_text == "Text"
    # and a second run finds nothing more
    code, out, _ = run(*base, "notices", "prune", "--format", "json")
    assert json.loads(out)["notices"] == 0


def test_without_retention_nothing_is_pruned(database_url: str) -> None:
    code, out, _ = run("--db", database_url, "notices", "prune")
    assert code == 0 and "kept for ever" in out
