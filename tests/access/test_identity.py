"""Identity and permissions: refusals are logged; on PostgreSQL the database login is the
actor; ``db grants`` makes history INSERT-only; secrets never show up in output."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import NOW
from grants_support import drop_database_roles, drop_roles, roles_of
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool
from support import add_proposal

from workflow.app.settings import load_settings
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.errors import ConcurrentUpdate, PermissionDenied, TransitionNotAllowed
from workflow.store.schema import history

PASSWORD = "s3cr3t-Pa55wort"
AUDIT_KEY = "audit-hmac-Schluessel-42"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"RUHRFLOW_ACTOR": None, **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def config_file(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(f'[mail]\nmaildir = "{tmp_path / "mail"}"\n{body}', encoding="utf-8")
    return path


# --- every refusal is logged -------------------------------------------------------------


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ruhrflow.engine" and "refused" in r.msg]


def test_every_refusal_is_logged_with_actor_trigger_and_reason(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = add_proposal(engine, NOW)
    caplog.set_level(logging.WARNING, logger="ruhrflow.engine")
    # a ministry may not submit; a coordinator may not approve an idea; a stale version loses
    with pytest.raises(PermissionDenied):
        engine.advance(key, "submit", actor="mwide", now=NOW)
    with pytest.raises(TransitionNotAllowed):
        engine.advance(key, "approve", actor="koordination", now=NOW)
    with pytest.raises(ConcurrentUpdate):
        engine.advance(key, "submit", actor="koordination", now=NOW, expected_version=99)
    with pytest.raises(PermissionDenied):
        engine.record_statement(
            key, party="Stadt Essen", group="kommune", position="support", text="",
            actor="pruefung", now=NOW,
        )  # fmt: skip
    records = refusals(caplog)
    got = [(r.actor, r.trigger, r.proposal) for r in records]  # type: ignore[attr-defined]
    assert got == [
        ("mwide", "submit", key),
        ("koordination", "approve", key),
        ("koordination", "submit", key),
        ("pruefung", "record_statement", key),
    ]
    reasons = [r.reason for r in records]  # type: ignore[attr-defined]
    assert "needs" in reasons[0] and "mwide is ministry of MWIDE" in reasons[0]
    assert "no trigger 'approve' in state 'idea'" in reasons[1]
    assert "was changed by" in reasons[2]
    assert "pruefung" in reasons[3]


def test_a_refusal_log_line_cannot_be_forged_with_line_breaks(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = add_proposal(engine, NOW)
    caplog.set_level(logging.WARNING, logger="ruhrflow.engine")
    forged = "x\nrefused: actor=koordination trigger=approve proposal=RK-99-99 reason=ok"
    with pytest.raises(TransitionNotAllowed):
        engine.advance(key, forged, actor="mwide", now=NOW)
    (record,) = refusals(caplog)
    assert "\n" not in record.getMessage() and "\\n" in record.getMessage()
    assert record.trigger == forged  # type: ignore[attr-defined]  # structured field intact


# --- who acts: --as on SQLite, the database login on PostgreSQL --------------------------


def test_as_names_the_actor_on_sqlite_and_an_administrator_on_postgresql(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    plain = config_file(tmp_path)  # no [security] setting at all
    if database_url.startswith("sqlite"):
        result = invoke("--db", database_url, "--config", str(plain), "--as", "koordination",
                        "advance", key, "submit")  # fmt: skip
        assert result.exit_code == 0, result.output
        return
    # PostgreSQL: the login 'postgres' is nobody in the table logins: a clear error, exit 2
    unmapped = invoke("--db", database_url, "--config", str(plain), "advance", key, "submit")
    assert unmapped.exit_code == 2
    assert "database user 'postgres' is no actor of the directory" in unmapped.stderr
    assert "ruhrflow db logins add postgres ACTOR" in unmapped.stderr
    with engine.store.read() as conn:
        assert conn.execute(select(history.c.seq).where(history.c.chain == key)).all() == [(1,)]
    # but it is a superuser, an administrator: the database lets it act as anybody
    ok = invoke("--db", database_url, "--config", str(plain), "--as", "koordination",
                "advance", key, "submit")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    # (a login that is neither administrator nor granted impersonation: tests/test_rights.py)


def test_allow_impersonation_must_be_a_real_boolean(tmp_path: Path) -> None:
    bad = config_file(tmp_path, '[security]\nallow_impersonation = "false"\n')
    result = invoke("--config", str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}",
                    "--as", "koordination", "proposal", "list")  # fmt: skip
    assert result.exit_code == 2
    assert "security.allow_impersonation must be true or false" in result.stderr


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("database roles and logins exist only on PostgreSQL")
    return database_url


def test_db_grants_make_history_insert_only_and_logins_act_as_themselves(
    engine: Engine, postgres_url: str, tmp_path: Path
) -> None:
    key = add_proposal(engine, NOW)
    # given the grants applied by the owner
    applied = invoke("--db", postgres_url, "db", "grants", "--apply")
    assert applied.exit_code == 0, applied.output
    roles = roles_of(postgres_url)
    # NullPool: SET ROLE sticks to a session, so no session is reused
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    login = f"rf_koord_{uuid.uuid4().hex[:8]}"
    person = f"rf_person_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{login}" LOGIN IN ROLE "{roles.service}"'))
        conn.execute(text(f'CREATE ROLE "{person}" LOGIN IN ROLE "{roles.reader}"'))
    try:
        # then nobody in a ruhrflow role may change or remove history rows
        for role in roles.all():
            for statement in (
                "UPDATE history SET comment = 'geändert'",
                "DELETE FROM history",
                "TRUNCATE history",
            ):
                with admin.connect() as conn, pytest.raises(ProgrammingError) as refused:
                    conn.execute(text(f'SET ROLE "{role}"'))
                    conn.execute(text(statement))
                assert "permission denied" in str(refused.value)
        # the auditor and people read and cannot write; the service writes proposals and history
        for role in (roles.auditor, roles.reader):
            with admin.connect() as conn:
                conn.execute(text(f'SET ROLE "{role}"'))
                assert conn.execute(text("SELECT count(*) FROM history")).scalar_one() == 1
                with pytest.raises(ProgrammingError):
                    conn.execute(text("UPDATE proposals SET title = 'x'"))
        with admin.connect() as conn:
            conn.execute(text(f'SET ROLE "{roles.service}"'))
            with pytest.raises(ProgrammingError):  # actor refs: add, never re-attribute
                conn.execute(text("UPDATE actor_refs SET actor_id = 'jemand'"))

        # when an administrator maps the login to koordination (the table logins)
        mapped = invoke("--db", postgres_url, "db", "logins", "add", login, "koordination")
        assert mapped.exit_code == 0, mapped.output
        config = config_file(tmp_path)
        as_login = make_url(postgres_url).set(username=login).render_as_string(False)
        result = invoke("--db", as_login, "--config", str(config), "advance", key, "submit")
        # then it acts as koordination, under the service role's privileges
        assert result.exit_code == 0, result.output
        shown = invoke("--db", postgres_url, "--config", str(config), "history", key)
        assert "koordination" in shown.stdout
        # and a person's login mapped to koordination cannot pretend to be somebody else
        mapped = invoke("--db", postgres_url, "db", "logins", "add", person, "koordination")
        assert mapped.exit_code == 0, mapped.output
        as_person = make_url(postgres_url).set(username=person).render_as_string(False)
        other = invoke("--db", as_person, "--config", str(config), "--as", "mwide",
                       "triggers", key)  # fmt: skip
        assert other.exit_code == 1 and f"database user '{person}' may not act as 'mwide'" in (
            other.stderr
        )
        same = invoke("--db", as_person, "--config", str(config), "--as", "koordination",
                      "triggers", key)  # fmt: skip
        assert same.exit_code == 0, same.output  # naming yourself is no impersonation
        done = invoke("--db", as_login, "--config", str(config), "--as", "koordination",
                      "advance", key, "open_consultation")  # fmt: skip
        assert done.exit_code == 0, done.output
        with create_engine(as_login).connect() as conn, pytest.raises(ProgrammingError):
            conn.execute(text("UPDATE history SET comment = 'geändert'"))
    finally:
        admin.dispose()
        drop_roles(postgres_url, [login, person])
        drop_database_roles(postgres_url)


def test_db_grants_prints_the_roles_and_refuses_to_apply_on_sqlite(
    database_url: str, tmp_path: Path
) -> None:
    printed = invoke("--db", database_url, "db", "grants")
    assert printed.exit_code == 0
    sql = printed.stdout
    prefix = re.search(r'CREATE ROLE "(rf_\w+)_reader" NOLOGIN', sql)
    assert prefix is not None, sql
    r = prefix.group(1)
    assert f'CREATE ROLE "{r}_service" NOLOGIN' in sql and f'"{r}_auditor"' in sql
    assert f'GRANT INSERT ON "public"."history" TO "{r}_service", "{r}_auditor";' in sql
    assert f'GRANT SELECT ON "public"."proposals" TO "{r}_reader",' in sql
    assert f'GRANT INSERT, UPDATE, DELETE ON "public"."proposals" TO "{r}_service";' in sql
    assert 'REVOKE UPDATE, DELETE, TRUNCATE ON "public"."history"' in sql
    # people's roles are given nothing but SELECT, on any table
    assert not [line for line in sql.splitlines() if "GRANT" in line and "_reader" in line
                and not line.startswith(("GRANT SELECT ON", "GRANT USAGE ON SCHEMA",
                                         "DO $$ BEGIN EXECUTE 'GRANT CONNECT"))]  # fmt: skip
    history_grants = [line for line in sql.splitlines() if '"history" TO' in line]
    assert all("UPDATE" not in line and "DELETE" not in line for line in history_grants)
    if database_url.startswith("sqlite"):
        applied = invoke("--db", database_url, "db", "grants", "--apply")
        assert applied.exit_code == 2 and "only on PostgreSQL" in applied.stderr


# --- secrets -----------------------------------------------------------------------------


def test_settings_never_show_the_secrets(tmp_path: Path) -> None:
    env = {"RUHRFLOW_SMTP_PASSWORD": PASSWORD, "RUHRFLOW_AUDIT_KEY": AUDIT_KEY}
    url = f"postgresql+psycopg://ruhrflow:{PASSWORD}@db.example/ruhrflow"
    settings = load_settings(config_file(tmp_path), database_url=url, env=env)
    assert settings.mail.smtp.password == PASSWORD and settings.audit_key == AUDIT_KEY.encode()
    for shown in (repr(settings), str(settings), repr(settings.mail), repr(settings.raw)):
        assert PASSWORD not in shown and AUDIT_KEY not in shown


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://ruhrflow:{PASSWORD}@127.0.0.1:1/ruhrflow",  # nobody listens
        f"postgresql+psycopg://ruhrflow:{PASSWORD}@127.0.0.1:notaport/ruhrflow",
        f"ruhrflow:{PASSWORD}@127.0.0.1/ruhrflow",
        f"mysql://ruhrflow:{PASSWORD}@127.0.0.1/ruhrflow",
    ],
)
def test_a_bad_database_url_never_shows_its_password(url: str, tmp_path: Path) -> None:
    env = {"RUHRFLOW_SMTP_PASSWORD": PASSWORD, "RUHRFLOW_AUDIT_KEY": AUDIT_KEY}
    for args in (["--db", url, "proposal", "list"], ["-v", "--db", url, "proposal", "list"]):
        result = invoke("--config", str(config_file(tmp_path)), *args, env=env)
        assert result.exit_code in (2, 3), result.output
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
        assert PASSWORD not in result.output and AUDIT_KEY not in result.output


@pytest.mark.parametrize(
    "body",
    [
        '[mail]\ntransport = "smtp"\n[mail.smtp]\nsecurity = "tls"\n',
        '[mail.smtp]\nport = "fünfundzwanzig"\n',
        f'[mail.smtp]\npassword = "{PASSWORD}"\n',
        f'[audit]\nkey = "{AUDIT_KEY}"\n',
    ],
)
def test_bad_mail_or_audit_config_errors_never_show_a_secret(body: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    env = {"RUHRFLOW_SMTP_PASSWORD": PASSWORD, "RUHRFLOW_AUDIT_KEY": AUDIT_KEY}
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = invoke("--config", str(path), "--db", db, "proposal", "list", env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert PASSWORD not in result.output and AUDIT_KEY not in result.output


def test_init_against_an_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://ruhrflow:{PASSWORD}@127.0.0.1:1/ruhrflow"
    result = invoke("--config", str(config_file(tmp_path)), "-v", "--db", url, "init")
    assert PASSWORD not in result.output  # holds today; the exit code below does not
    assert result.exit_code == 3, result.output
