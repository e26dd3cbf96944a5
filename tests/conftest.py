"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL runs when RUHRFLOW_TEST_POSTGRES_URL names a server (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets a fresh
database cloned from a migrated template, so tests never see each other's rows.
Without the variable the PostgreSQL half is skipped — except in CI (``CI`` set),
where a missing or unreachable server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from workflow.access.directory import Directory, load_directory
from workflow.app.bootstrap import initialise
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import Settings, load_settings
from workflow.engine.engine import Engine
from workflow.process.definition import load_definition
from workflow.store.db import Store

pytest_plugins = ["notify_fixtures"]

POSTGRES_ENV = "RUHRFLOW_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]
REPO = Path(__file__).resolve().parent.parent
DEFINITION = REPO / "definitions" / "ruhr_konferenz.yaml"
# 15 Jul 2019, 10:00 Berlin: the day the Themenforen handed in their proposals.
NOW = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """The server given by RUHRFLOW_TEST_POSTGRES_URL, checked once."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _postgres_unavailable(f"{POSTGRES_ENV} is not set")
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        _postgres_unavailable(f"cannot connect to {url}: {type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
    yield url


def _admin(url: str) -> object:
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _migrate(url: str) -> None:
    store = Store.open(url)
    try:
        initialise(store, load_definition(DEFINITION), NOW)
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> Iterator[str]:
    """A migrated database (with the definition registered) that tests clone."""
    name = f"ruhrflow_tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    _migrate(make_url(postgres_admin_url).set(database=name).render_as_string(False))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


def fresh_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database of ``backend``; dropped afterwards."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ruhrflow.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"ruhrflow_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL — once on SQLite, once on PostgreSQL."""
    yield from fresh_database(request, request.param, tmp_path)


def test_config_text(mail_dir: Path) -> str:
    """A test configuration: mail into ``mail_dir``; ``--as`` allowed on PostgreSQL too."""
    return f'[mail]\nmaildir = "{mail_dir}"\n[security]\nallow_impersonation = true\n'


@pytest.fixture(scope="session")
def session_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configuration every CLI call in the tests gets through RUHRFLOW_CONFIG."""
    base = tmp_path_factory.mktemp("config")
    path = base / "ruhrflow-test.toml"
    path.write_text(test_config_text(base / "mail"), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _config_for_cli(session_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test writes mail into the working directory, and the tests act with --as on
    # PostgreSQL too (where the database login is the actor unless impersonation is allowed).
    monkeypatch.setenv("RUHRFLOW_CONFIG", str(session_config))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for the fresh database, with mail into a Maildir under tmp_path."""
    config = tmp_path / "ruhrflow-test.toml"
    config.write_text(test_config_text(tmp_path / "mail"), encoding="utf-8")
    return load_settings(config, database_url=database_url, env={})


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """The wired runtime (store, directory, engine with its effects)."""
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    """The engine on a fresh database."""
    return runtime.engine


@pytest.fixture
def store(runtime: Runtime) -> Store:
    """The store of the fresh database."""
    return runtime.store


@pytest.fixture(scope="session")
def directory() -> Directory:
    """The shipped directory of ministries and actors."""
    return load_directory(REPO / "config" / "directory.toml")
