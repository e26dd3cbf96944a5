"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL runs when RUHRFLOW_TEST_POSTGRES_URL names a server (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets a fresh
database cloned from a migrated template, so tests never see each other's rows.
Without the variable the PostgreSQL half is skipped — except in CI (``CI`` set),
where a missing or unreachable server fails the run.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from grants_support import drop_orphaned_test_roles, drop_roles_of_dropped_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import workflow.cli.main as cli_main
from workflow.access.directory import Directory, load_directory
from workflow.app.bootstrap import initialise
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import Settings, load_settings
from workflow.engine.engine import Engine
from workflow.process.definition import load_definition
from workflow.store.db import Store

pytest_plugins = ["notify_fixtures", "web_fixtures", "browser_fixtures"]

POSTGRES_ENV = "RUHRFLOW_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]
REPO = Path(__file__).resolve().parent.parent
DEFINITION = REPO / "definitions" / "ruhr_konferenz.yaml"
# 15 Jul 2019, 10:00 Berlin: the day the Themenforen handed in their proposals.
NOW = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _definition_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The definitions parsed by this session's processes are cached in its own directory,
    not the runner's ``~/.cache/ruhrflow`` (the processes the tests start inherit it)."""
    name = "RUHRFLOW_CACHE_DIR"
    before = os.environ.get(name)
    os.environ[name] = str(tmp_path_factory.mktemp("ruhrflow-cache"))
    yield
    if before is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = before


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


class PostgresClones:
    """Fresh PostgreSQL databases, cloned from the template ahead of use and dropped behind it.

    Cloning and dropping a database costs the server about 0.4 s, as much as many tests
    themselves; a thread clones the next databases while a test runs and another drops the
    used ones, so a test only waits when the server falls behind. Every test still gets a
    database nobody else has touched.

    Roles are cluster-wide and outlive the database: the group roles a test made for its clone
    (``db grants --apply``: ``rf_<clone>_<4 hex>_<kind>``) are dropped with it, whether the
    test passed, failed or forgot them; nothing else of the cluster's roles is touched.
    """

    def __init__(self, admin_url: str, template: str, ahead: int = 2) -> None:
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=ahead)
        self._used: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self.left: list[str] = []  # what the drops could not drop (warned at the end)
        self._threads = [
            threading.Thread(target=self._clone, name="pg-clone", daemon=True),
            threading.Thread(target=self._drop, name="pg-drop", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(sql))

    def _clone(self) -> None:
        while not self._stop.is_set():
            name = f"ruhrflow_t_{uuid.uuid4().hex[:12]}"
            try:
                self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
            except BaseException as exc:  # handed to the test that waits for a clone
                self._ready.put(exc)
                return
            while True:
                try:
                    self._ready.put(name, timeout=0.2)
                    break
                except queue.Full:
                    if self._stop.is_set():
                        self._used.put(name)
                        return

    def _drop(self) -> None:
        while (name := self._used.get()) is not None:
            try:
                with self._admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    self.left += drop_roles_of_dropped_database(conn, name)
            except Exception as exc:  # the next clones are still dropped
                self.left.append(f"{name}: {type(exc).__name__}: {exc}")

    def take(self) -> str:
        """The name of a fresh clone (waits for the cloning thread if it is behind)."""
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def give_back(self, name: str) -> None:
        """Drop ``name`` in the background."""
        self._used.put(name)

    def close(self) -> None:
        """Stop cloning, drop every clone (used or not) and wait for the drops."""
        self._stop.set()
        self._threads[0].join()
        while not self._ready.empty():
            item = self._ready.get()
            if isinstance(item, str):
                self._used.put(item)
        self._used.put(None)
        self._threads[1].join()
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_clones(postgres_admin_url: str) -> Iterator[PostgresClones]:
    """A migrated template database (with the definition registered) and its clones."""
    template = f"ruhrflow_tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    _migrate(make_url(postgres_admin_url).set(database=template).render_as_string(False))
    clones = PostgresClones(postgres_admin_url, template)
    yield clones
    try:
        clones.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()
    finally:
        # the roles of test databases a killed run left behind (theirs are gone: no run's own)
        left = clones.left + drop_orphaned_test_roles(postgres_admin_url)
    if left:
        message = f"test databases or roles left on the server: {left}"
        if os.environ.get("CI"):  # in CI a leak fails the run instead of scrolling past
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)


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
    clones: PostgresClones = request.getfixturevalue("postgres_clones")
    name = clones.take()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        clones.give_back(name)


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
def _no_internal_error(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail any test in which a CLI command ended with exit 70 (``internal error:``).

    Exit 70 means a bug in ruhrflow; no input a test (or a user) produces may reach it.
    """
    seen: list[Exception] = []
    report = cli_main.report_internal_error

    def record(ctx: click.Context, exc: Exception) -> None:
        seen.append(exc)
        report(ctx, exc)

    monkeypatch.setattr(cli_main, "report_internal_error", record)
    yield
    if seen:
        pytest.fail(f"a command reached an internal error (exit 70): {seen[0]!r}", pytrace=False)


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
