"""Upgrades that keep every running process (#23): a database from each earlier release.

Each release's fixture (``fixtures/<release>/``, built by that release's own code with
``build_fixture.py``) is upgraded by today's ``ruhrflow init`` on SQLite and PostgreSQL, and
then has to keep working as an operator expects: the old checkpoint and every hash chain
verify; every old proposal takes its next step on the definition version it started on;
a tick fires due rungs for old and new proposals; each notice left pending by the old
release goes out exactly once; ``migrate`` moves old proposals to the current version.
"""

from __future__ import annotations

import json
import mailbox
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import definition_next_version

from workflow.cli.main import cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "release.txt").exists())
AFTER = "2019-11-20T10:00"  # after the upgrade: the round goes on

# Where each fixture left these proposals (build_fixture.py), and the step each takes next.
NEXT_STEPS = [
    ("RK-03-01", "approved", "request_budget", []),
    ("RK-01-01", "cabinet", "approve", ["--set", "decision_date=2019-11-19"]),
    ("RK-01-02", "ministry_review", "submit_to_cabinet", []),
    ("RK-02-01", "consultation", "close_consultation", []),
    ("RK-02-02", "proposed", "open_consultation", []),
    ("RK-05-01", "idea", "submit", []),
]


def _restore_postgres(admin_url: str, dump: Path) -> str:
    """A new database holding ``dump`` (a plain ``pg_dump --inserts``); its URL."""
    name = f"ruhrflow_up_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    # psql's meta-commands (\restrict of newer pg_dumps) are no SQL
    sql = "\n".join(
        line for line in dump.read_text(encoding="utf-8").splitlines() if not line.startswith("\\")
    )
    restore = create_engine(url, isolation_level="AUTOCOMMIT")
    with restore.connect() as conn:
        # the driver's own connection: without parameters, psycopg sends the script as it is
        conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
    restore.dispose()
    return url


def _drop_postgres(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


class Old:
    """A database made by an earlier release, and ruhrflow (today's) against it."""

    def __init__(self, release: str, backend: str, url: str, home: Path) -> None:
        self.release = release
        self.backend = backend
        self.url = url
        self.maildir = home / "mail"
        self.config = home / "ruhrflow.toml"
        self.config.write_text(
            f'[mail]\nmaildir = "{self.maildir}"\n[security]\nallow_impersonation = true\n',
            encoding="utf-8",
        )
        self.runner = CliRunner(env={"RUHRFLOW_ACTOR": None, "RUHRFLOW_DATABASE_URL": None})
        self.checkpoint = (
            (FIXTURES / release / f"checkpoint-{backend}.txt").read_text(encoding="utf-8").strip()
        )

    def __call__(
        self, *args: str, actor: str | None = None, now: str = AFTER, code: int | None = 0
    ) -> Result:
        """Run ruhrflow; ``code`` is the exit code expected (None: any of 0 and 1)."""
        argv = ["--db", self.url, "--config", str(self.config), "--now", now]
        if actor is not None:
            argv += ["--as", actor]
        result = self.runner.invoke(cli, [*argv, *args])
        assert "Traceback" not in result.output, result.output
        expected = {0, 1} if code is None else {code}
        assert result.exit_code in expected, f"exit {result.exit_code} != {code}:\n{result.output}"
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self(*args, "--format", "json", **kw).stdout)

    def mails(self) -> list[Any]:
        if not self.maildir.exists():
            return []
        return list(mailbox.Maildir(self.maildir, create=False))


@pytest.fixture(params=[(r, b) for r in RELEASES for b in ("sqlite", "postgresql")],
                ids=lambda p: f"{p[0]}-{p[1]}")  # fmt: skip
def old(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Old]:
    """Given a database from an earlier release, as that release left it."""
    release, backend = request.param
    if backend == "sqlite":
        path = tmp_path / "ruhrflow.db"
        shutil.copyfile(FIXTURES / release / "ruhrflow.db", path)
        yield Old(release, backend, f"sqlite:///{path}", tmp_path)
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    url = _restore_postgres(admin_url, FIXTURES / release / "postgresql.sql")
    try:
        yield Old(release, backend, url, tmp_path)
    finally:
        _drop_postgres(admin_url, url)


@pytest.fixture
def upgraded(old: Old) -> Old:
    """When today's ``ruhrflow init`` has upgraded it."""
    old("init")
    return old


def test_init_upgrades_and_the_old_checkpoint_and_chains_verify(upgraded: Old) -> None:
    result = upgraded("audit", "verify", "--checkpoint", upgraded.checkpoint)
    assert "checkpoint" in result.stdout


def test_the_upgrade_copies_each_proposals_key_into_its_deadlines(upgraded: Old) -> None:
    # migration 0015: the worklist orders by deadlines.proposal_key
    engine = create_engine(upgraded.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT d.proposal_key, p.key, d.status FROM deadlines d"
                    " JOIN proposals p ON p.id = d.proposal_id"
                )
            ).all()
    finally:
        engine.dispose()
    assert {status for *_, status in rows} >= {"open", "closed"}
    assert [(copied, key) for copied, key, _ in rows if copied != key] == []


def test_the_upgrade_gives_postgresql_the_statistics_of_upper_lead(upgraded: Old) -> None:
    # migration 0016: a ministry's worklist (upper(lead) = its code) on PostgreSQL needs the
    # statistics of the expression, which only its index (analysed by the migration) gives
    engine = create_engine(upgraded.url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                found = conn.execute(
                    text("SELECT name FROM sqlite_master WHERE name = 'ix_proposals_upper_lead'")
                ).all()  # fmt: skip
                assert found == []  # SQLite would not use it
                return
            leads = set(conn.execute(text("SELECT upper(lead) FROM proposals")).scalars())
            stats = conn.execute(
                text("SELECT null_frac FROM pg_stats WHERE tablename = 'ix_proposals_upper_lead'")
            ).all()
    finally:
        engine.dispose()
    # (pg_stats has a row of the index's expression only once the table was analysed)
    assert len(leads) > 1 and len(stats) == 1 and stats[0].null_frac == 0, stats


def _indexes(url: str) -> dict[str, str]:
    """Every index of the database at ``url``, by name, as the database states it."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            return {name: sql for name, sql in conn.execute(text(query)).all()}
    finally:
        engine.dispose()


def test_the_upgraded_indexes_are_those_init_makes(upgraded: Old, tmp_path: Path) -> None:
    # migration 0017 among them: the worklist's (status, due_at, proposal_key, id), the list's
    # (lead, key), SQLite's (upper(lead), lead) (comparing the schema with schema.py skips an
    # index on an expression on SQLite)
    if upgraded.backend == "sqlite":
        fresh = Old(upgraded.release, "sqlite", f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
        fresh("init")
        made = _indexes(fresh.url)
    else:
        admin_url = make_url(upgraded.url).set(database="postgres")
        name = f"ruhrflow_up_{uuid.uuid4().hex[:10]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(upgraded.url).set(database=name).render_as_string(hide_password=False)
        try:
            Old(upgraded.release, "postgresql", url, tmp_path)("init")
            made = _indexes(url)
        finally:
            _drop_postgres(admin_url.render_as_string(hide_password=False), url)
    assert _indexes(upgraded.url) == made
    assert "ix_deadlines_status_due_at_proposal_key_id" in made
    assert "ix_proposals_lead_key" in made and "ix_proposals_lead" not in made
    assert ("ix_proposals_upper_lead_lead" in made) is (upgraded.backend == "sqlite")


def test_every_old_proposal_takes_its_next_step_on_its_own_version(upgraded: Old) -> None:
    for key, state, trigger, extra in NEXT_STEPS:
        before = upgraded.json("proposal", "show", key)
        assert before["state"] == state, (key, before["state"])
        upgraded("triggers", key, actor="koordination")
        upgraded("advance", key, trigger, *extra, actor="koordination")
        after = upgraded.json("proposal", "show", key)
        assert after["state"] != state or trigger == "report_progress", (key, after)
        assert after["definition_version"] == before["definition_version"], key


def test_a_tick_fires_due_rungs_for_old_and_new_proposals(upgraded: Old) -> None:
    # a new proposal after the upgrade starts on the current definition
    upgraded("proposal", "add", "--key", "RK-03-90", "--title", "Neu nach dem Upgrade (Test)",
             "--handlungsfeld", "3", "--forum", "3", "--lead", "IM",
             actor="koordination", now="2019-11-20T09:00")  # fmt: skip
    before = _fired(upgraded)
    upgraded("scheduler", "tick", now="2020-03-02T08:00")
    after = _fired(upgraded)
    new_keys = {k for k, n in after.items() if n > before.get(k, 0)}
    assert "RK-03-90" in new_keys, new_keys
    assert new_keys - {"RK-03-90"}, "no rung fired for a proposal of the old release"


def _fired(db: Old) -> Counter[str]:
    entries = db.json("audit", "log", actor="pruefung")
    return Counter(
        e["key"] for e in entries if str(e.get("kind", "")) in {"reminder", "escalation"}
    )


def test_each_pending_notice_goes_out_exactly_once(upgraded: Old) -> None:
    pending = upgraded.json("notices", "list", "--status", "pending")
    assert pending, "the fixture left notices pending"
    keys = {n["idempotency_key"] for n in pending}
    recorded_before = _notice_sent(upgraded)
    for hour in ("08:00", "09:00", "10:00"):  # passes after the lease would have expired
        upgraded("notices", "send", now=f"2019-11-21T{hour}")
    upgraded("scheduler", "tick", now="2019-11-22T08:00")
    sent = Counter(str(m["X-Ruhrflow-Key"] or "") for m in upgraded.mails())
    for key in keys:
        assert sent[key] == 1, (key, sent[key])
    still = {n["idempotency_key"] for n in upgraded.json("notices", "list", "--status", "pending")}
    assert not keys & still
    # and each send is in its proposal's history (notice_sent), the row clean
    assert _notice_sent(upgraded) - recorded_before >= len(keys)
    sent = {n["idempotency_key"]: n for n in upgraded.json("notices", "list", "--status", "sent")}
    assert all(sent[k]["last_error"] is None for k in keys), [sent[k] for k in keys]


def _notice_sent(db: Old) -> int:
    return sum(1 for e in db.json("audit", "log", actor="pruefung") if e["kind"] == "notice_sent")


def test_migrate_moves_old_proposals_to_a_new_version(upgraded: Old, tmp_path: Path) -> None:
    # Given a new version of the process registered after the upgrade
    upgraded("init", "--definition", str(definition_next_version(tmp_path)))
    before = {p["key"]: p for p in upgraded.json("proposal", "list")}
    assert {p["definition_version"] for p in before.values()} < {1, 2, 3}
    # when every old proposal is planned and moved to it
    move = ["--to", "4", "--map", "ministry_review=ressortpruefung"]
    plan = upgraded.json("migrate", "plan", *move, actor="koordination")
    assert {row["key"] for row in plan["proposals"]} == set(before), plan
    upgraded("migrate", "apply", *move, actor="koordination")
    # then all run on version 4, in the mapped states, and the history still verifies
    after = {p["key"]: p for p in upgraded.json("proposal", "list")}
    assert {p["definition_version"] for p in after.values()} == {4}
    assert after["RK-01-02"]["state"] == "ressortpruefung"
    assert after["RK-03-01"]["state"] == before["RK-03-01"]["state"]
    upgraded("audit", "verify", "--checkpoint", upgraded.checkpoint)
    upgraded("advance", "RK-01-02", "submit_to_cabinet", actor="koordination")


def test_the_version_is_not_an_earlier_release() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    found = re.search(r"version (\S+)", result.output)
    assert found is not None
    assert found.group(1) not in {"0.1.0", "0.2.0"}, result.output


# --- seeing where a database stands -------------------------------------------------------


def test_db_status_says_an_old_schema_needs_init_and_changes_nothing(old: Old) -> None:
    before = old.json("db", "status", code=1)
    assert before["schema"] == "older" and before["pending_migrations"]
    assert before["revision"] != before["expected_revision"] and not before["ready"]
    assert [d["version"] for d in before["definitions"]]
    assert sum(d["proposals"] for d in before["definitions"]) == 75
    assert all(d["problem"] is None for d in before["definitions"])
    # init --dry-run names the migrations and changes nothing
    plan = old("init", "--dry-run").stdout
    assert "nothing is changed" in plan and before["expected_revision"] in plan
    assert old.json("db", "status", code=1)["revision"] == before["revision"]
    old("init")
    after = old.json("db", "status", code=0 if old.backend == "sqlite" else 1)
    assert after["schema"] == "current" and after["pending_migrations"] == []
    assert after["installation_id"]
    if old.backend == "postgresql":  # the grants of this version are not applied yet
        assert after["grants"]["problems"], after["grants"]


OLD_SCHEMA_COMMANDS = [
    ("proposal", "list"),
    ("history", "RK-03-01"),
    ("triggers", "RK-03-01"),
    ("deadlines",),
    ("notices", "list"),
    ("audit", "verify"),
    ("report", "status"),
    ("scheduler", "tick"),
]


@pytest.mark.parametrize("command", OLD_SCHEMA_COMMANDS, ids=" ".join)
def test_every_command_on_an_old_schema_says_run_init(old: Old, command: tuple[str, ...]) -> None:
    result = old(*command, actor="koordination" if command[0] == "triggers" else None, code=3)
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: the database schema is older than this version of ruhrflow:"
        " run `ruhrflow init` to upgrade it"
    ], result.stderr


def test_a_copy_gets_an_installation_of_its_own(upgraded: Old) -> None:
    before = upgraded.json("db", "status", code=None)["installation_id"]
    said = upgraded("db", "new-installation", "--reason", "Staging-Kopie (Test)",
                    actor="koordination").stdout  # fmt: skip
    after = upgraded.json("db", "status", code=None)["installation_id"]
    assert before in said and after in said and after != before
    (entry,) = [
        e for e in upgraded.json("audit", "log", actor="pruefung") if e["kind"] == "installation"
    ]
    assert entry["key"] == "@system" and entry["actor"] == "koordination"
    assert entry["data"] == {"old_installation_id": before, "installation_id": after}
    upgraded("audit", "verify", "--checkpoint", upgraded.checkpoint)


def test_the_web_shows_and_advances_an_old_proposal(
    upgraded: Old, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from argon2 import PasswordHasher
    from web_fixtures import login

    from workflow import load_settings, open_runtime
    from workflow.access import accounts
    from workflow.version import __version__
    from workflow.web import create_app

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    runtime = open_runtime(load_settings(upgraded.config, database_url=upgraded.url, env={}))
    try:
        accounts.set_password(runtime.store, runtime.directory, "koordination",
                              "richtig-langes-passwort", datetime.now(UTC))  # fmt: skip
        app = create_app(runtime.settings, runtime=runtime)
        app.config["TESTING"] = True
        b = login(app, "koordination")
        page = b.client.get("/proposals/RK-01-01")
        assert page.status_code == 200
        assert f"ruhrflow {__version__}" in page.get_data(as_text=True)
        before = upgraded.json("proposal", "show", "RK-01-01")
        version = before["version"]
        done = b.post(
            "/proposals/RK-01-01/actions/approve",
            {"step": "confirm", "field_decision_date": "2019-11-19", "comment": "Kabinett",
             "expected_version": str(version)},
        )  # fmt: skip
        assert done.status_code == 303, done.get_data(as_text=True)  # type: ignore[attr-defined]
    finally:
        runtime.close()
    shown = upgraded.json("proposal", "show", "RK-01-01")
    assert shown["state"] == "approved"
    assert shown["definition_version"] == before["definition_version"]
