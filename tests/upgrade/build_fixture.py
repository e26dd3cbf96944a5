"""Build the upgrade fixture of one ruhrflow release with that release's own code.

Run it with the ``ruhrflow`` executable of the release (installed from its commit into a
virtual environment of its own), never with today's code: the fixture must hold exactly what
that release wrote. It plays the same part of the 2019 round on SQLite and on PostgreSQL:

- the shipped proposals imported, several advanced through different states (idea, proposed,
  consultation, ministry_review, cabinet, approved, withdrawn), with a statement;
- one ``scheduler tick`` that fires reminders and delivers their mails (sent notices);
- more steps after that tick, whose notices are still pending;
- an audit checkpoint (its digest is kept in ``checkpoint-<backend>.txt``).

and writes into ``OUT``: ``ruhrflow.db`` (the SQLite file), ``postgresql.sql`` (a plain
``pg_dump --inserts`` of the PostgreSQL database), the two checkpoint digests and
``release.txt`` (the version and commit). The tests in this folder load them.

    python tests/upgrade/build_fixture.py --ruhrflow /path/venv/bin/ruhrflow \\
        --release 0.1.0 --commit 7359392 --out tests/upgrade/fixtures/0.1.0 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

README (Development: a fixture per release) says when to run it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

# (actor, now, arguments): every command exists with these arguments since 0.1.0.
STEPS: list[tuple[str | None, str, list[str]]] = [
    ("koordination", "2019-07-01T09:00", ["proposal", "import", "{csv}"]),
    ("forum-03", "2019-07-10T10:00", ["advance", "RK-03-01", "submit"]),
    ("forum-01", "2019-07-10T11:00", ["advance", "RK-01-01", "submit"]),
    ("forum-01", "2019-07-10T11:05", ["advance", "RK-01-02", "submit"]),
    ("forum-02", "2019-07-10T11:10", ["advance", "RK-02-01", "submit"]),
    ("forum-02", "2019-07-10T11:15", ["advance", "RK-02-02", "submit"]),
    ("forum-04", "2019-07-10T11:20", ["advance", "RK-04-01", "submit"]),
    ("koordination", "2019-07-16T10:00", ["advance", "RK-03-01", "open_consultation"]),
    ("koordination", "2019-07-16T10:05", ["advance", "RK-01-01", "open_consultation"]),
    ("koordination", "2019-07-16T10:10", ["advance", "RK-01-02", "open_consultation"]),
    ("koordination", "2019-07-16T10:15", ["advance", "RK-02-01", "open_consultation"]),
    (
        "koordination",
        "2019-07-16T10:20",
        ["advance", "RK-04-01", "withdraw", "--set", "reason=Zusammengelegt (Fixture)"],
    ),
    (
        "koordination",
        "2019-07-22T10:00",
        [
            "consult",
            "record",
            "RK-03-01",
            "--party",
            "Stadt Essen",
            "--group",
            "kommune",
            "--position",
            "support",
        ],
    ),
    ("koordination", "2019-08-07T10:00", ["advance", "RK-03-01", "close_consultation"]),
    ("koordination", "2019-08-07T10:05", ["advance", "RK-01-01", "close_consultation"]),
    ("koordination", "2019-08-20T10:00", ["advance", "RK-03-01", "submit_to_cabinet"]),
    ("koordination", "2019-08-20T10:05", ["advance", "RK-01-01", "submit_to_cabinet"]),
    # reminders and escalations are due by now; their mails are delivered (sent notices)
    (None, "2019-09-02T08:00", ["scheduler", "tick"]),
    (
        "koordination",
        "2019-11-05T12:00",
        ["advance", "RK-03-01", "approve", "--set", "decision_date=2019-11-05"],
    ),
    ("koordination", "2019-11-05T12:05", ["advance", "RK-01-02", "close_consultation"]),
]
CHECKPOINT_AT = "2019-11-06T09:00"
DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


# 0.1.0 lets the database owner act as a directory actor on PostgreSQL only with this;
# later releases read it and decide by the database login (the owner may).
CONFIG = "[security]\nallow_impersonation = true\n"


def run(exe: str, db: str, cwd: Path, actor: str | None, now: str, args: list[str]) -> str:
    config = cwd / "ruhrflow.toml"
    if not config.exists():
        config.write_text(CONFIG, encoding="utf-8")
    command = [exe, "--db", db, "--config", str(config),
               *(["--as", actor] if actor else []), "--now", now, *args]  # fmt: skip
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    return done.stdout


def play(exe: str, db: str, cwd: Path, csv: Path) -> str:
    """Play the steps on ``db``; return the checkpoint digest."""
    run(exe, db, cwd, None, "2019-07-01T08:00", ["init"])
    for actor, now, args in STEPS:
        run(exe, db, cwd, actor, now, [a.replace("{csv}", str(csv)) for a in args])
    out = run(exe, db, cwd, "pruefung", CHECKPOINT_AT, ["audit", "checkpoint"])
    found = DIGEST.search(out)
    if found is None:
        sys.exit(f"no digest in the checkpoint's output: {out!r}")
    return found.group(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ruhrflow", required=True, help="the release's ruhrflow executable")
    parser.add_argument("--release", required=True, help="the release's version, e.g. 0.2.0")
    parser.add_argument("--commit", required=True, help="the release's commit")
    parser.add_argument("--csv", type=Path, help="the release's shipped proposals CSV")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--postgres", required=True, help="an admin URL of a PostgreSQL server")
    a = parser.parse_args()
    exe = a.ruhrflow
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    if a.csv is None:  # `ruhrflow data path` since 0.2.0; 0.1.0 needs --csv
        shipped = subprocess.run([exe, "data", "path"], capture_output=True, text=True, check=True)
        a.csv = Path(shipped.stdout.strip())
    csv = a.csv
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sqlite_db = work / "ruhrflow.db"
        digest = play(exe, f"sqlite:///{sqlite_db}", work, csv)
        # one file: fold the WAL into the database first
        import sqlite3

        con = sqlite3.connect(sqlite_db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
        con.close()
        shutil.copyfile(sqlite_db, a.out / "ruhrflow.db")
        (a.out / "checkpoint-sqlite.txt").write_text(digest + "\n", encoding="utf-8")

        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"ruhrflow_fixture_{uuid.uuid4().hex[:8]}"
        admin = create_engine(a.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(a.postgres).set(database=name)
        try:
            pg_work = work / "pg"
            pg_work.mkdir()
            digest = play(exe, url.render_as_string(hide_password=False), pg_work, csv)
            (a.out / "checkpoint-postgresql.txt").write_text(digest + "\n", encoding="utf-8")
            env = {
                **os.environ,
                "PGHOST": url.host or "127.0.0.1",
                "PGPORT": str(url.port or 5432),
                "PGUSER": url.username or "postgres",
            }
            dump = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--inserts", name],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            (a.out / "postgresql.sql").write_text(dump.stdout, encoding="utf-8")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    (a.out / "release.txt").write_text(
        # 0.2.0 still printed "version 0.1.0": the release is what was released, not that
        f"release {a.release}\ncommit {a.commit}\nprinted {version.stdout.strip()}\n",
        encoding="utf-8",
    )
    print(f"fixture of release {a.release} ({a.commit}) written to {a.out}")


if __name__ == "__main__":
    main()
