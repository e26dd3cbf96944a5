"""``db grants --apply`` on upgrade, with several databases in a cluster, hardened (#23.5).

Roles are cluster-wide: every name a test makes is unique (a uuid), the roles of 0.1.0/0.2.0
are stood in for by uniquely named roles with the same rights, and everything is dropped
afterwards, so that runs at the same time on the same server never meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from grants_support import (
    drop_database_roles,
    drop_orphaned_test_roles,
    drop_roles,
    drop_roles_of_dropped_database,
    roles_of,
)
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from workflow.access.grants import GRANTS_VERSION, apply_grants, grants_status
from workflow.cli.main import cli
from workflow.store.db import Store
from workflow.store.schema import metadata


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"RUHRFLOW_ACTOR": None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def as_login(url: str, login: str) -> str:
    return make_url(url).set(username=login).render_as_string(False)


def connect(url: str) -> SqlEngine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture
def pg(database_url: str) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("database roles exist only on PostgreSQL")
    yield database_url
    drop_database_roles(database_url)


def status(url: str) -> dict[str, Any]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return grants_status(conn)
    finally:
        engine.dispose()


def test_grants_status_on_sqlite_has_nothing_to_match(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite case")
    found = status(database_url)
    assert found["roles"] is None and found["matches"] is None and found["problems"] == []


def test_grants_status_says_whether_this_versions_grants_are_applied(pg: str) -> None:
    # given a fresh database (a clone of the template: its prefix is the template's)
    before = status(pg)
    assert before["matches"] is False
    assert any("copy" in p for p in before["problems"]), before
    assert any("never applied" in p for p in before["problems"]), before
    # when the grants are applied, then they match, under this database's own roles
    assert invoke("--db", pg, "db", "grants", "--apply").exit_code == 0
    after = status(pg)
    roles = roles_of(pg)
    assert after["matches"] is True, after
    assert after["roles"] == roles.as_dict() and after["applied_version"] == GRANTS_VERSION
    assert after["applied_by"] == make_url(pg).username
    # and a later migration (another schema revision) makes them outdated again
    engine = connect(pg)
    with engine.connect() as conn:
        conn.execute(text("UPDATE db_roles SET grants_revision = 'older'"))
    engine.dispose()
    later = status(pg)
    assert later["matches"] is False
    assert later["problems"] == [
        "the schema changed since the grants were applied: run `ruhrflow db grants --apply`"
        " as the owner"
    ]


OLD_GRANTS = Path(__file__).parent / "fixtures" / "grants_0.2.0.sql"


def _old_release_roles(admin: SqlEngine, tag: str) -> tuple[str, str, str]:
    """0.2.0's ``db grants --apply``, exactly as it ran, for roles named for this test
    instead of ruhrflow_writer/_auditor/_admin (which are cluster-wide)."""
    names = {k: f"rfold_{tag}_{k}" for k in ("writer", "auditor", "admin")}
    with admin.connect() as conn:
        for line in OLD_GRANTS.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("--"):
                for kind, name in names.items():
                    line = line.replace(f"xx_{kind}_xx", name)
                conn.exec_driver_sql(line.removesuffix(";"))
    return names["writer"], names["auditor"], names["admin"]


def test_an_upgrade_moves_the_old_shared_roles_logins_and_takes_the_old_roles_rights(
    pg: str,
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = connect(pg)
    writer, auditor, admin_role = _old_release_roles(admin, tag)
    person, scheduler, checker, boss, stray = (
        f"rft_{tag}_{k}" for k in ("person", "scheduler", "checker", "boss", "stray")
    )
    try:
        with admin.connect() as conn:
            for login, group in ((person, writer), (scheduler, writer), (checker, auditor),
                                 (boss, admin_role), (stray, writer)):  # fmt: skip
                conn.execute(text(f'CREATE ROLE "{login}" LOGIN IN ROLE "{group}"'))
        mappings = ((person, "koordination"), (scheduler, "ruhrflow", "--scheduler"),
                    (checker, "pruefung"))  # fmt: skip
        for login, actor, *rights in mappings:
            added = invoke("--db", pg, "db", "logins", "add", login, actor, *rights)
            assert added.exit_code == 0, added.output
        # given a person's login of the old release, which could change any proposal
        with connect(as_login(pg, person)).connect() as conn:
            conn.execute(text("UPDATE proposals SET title = title"))
        # when the owner looks first (db grants without --apply), and then applies them
        store = Store.open(pg)
        try:
            old = (writer, auditor, admin_role)
            dry = apply_grants(store, metadata.tables, legacy=old, dry_run=True)
            with connect(as_login(pg, person)).connect() as conn:  # the dry run changed nothing
                conn.execute(text("UPDATE proposals SET title = title"))
            report = apply_grants(store, metadata.tables, legacy=old)
        finally:
            store.dispose()
        assert any(line.startswith(f"would move {person}: ") for line in dry.lines())
        roles = roles_of(pg)
        # then each mapped login is moved to this database's role for what it is, the
        # administrator too, and the login nobody mapped here is listed with what to run
        assert {(m.login, m.new) for m in report.moved} == {
            (person, roles.reader), (scheduler, roles.service), (checker, roles.auditor),
            (boss, roles.admin),
        }  # fmt: skip
        assert [(m.login, m.statement()) for m in report.not_moved] == [
            (stray, f'GRANT "{roles.reader}" TO "{stray}"')
        ]
        lines = report.lines()
        assert f"moved {person}: member of {writer} -> {roles.reader}" in lines
        assert any(line.startswith(f"not moved {stray}") for line in lines)
        # the person's login still reads (no "permission denied" after the upgrade) and can no
        # longer write, neither through the old role nor the new one
        listed = invoke("--db", as_login(pg, person), "proposal", "list")
        assert listed.exit_code == 0, listed.output
        with (
            pytest.raises(DBAPIError, match="permission denied"),
            connect(as_login(pg, person)).connect() as conn,
        ):
            conn.execute(text("UPDATE proposals SET title = title"))
        # the scheduler's login runs the scheduler, the auditor verifies, the admin manages
        for login, args in ((scheduler, ("scheduler", "tick")), (checker, ("audit", "verify")),
                            (boss, ("db", "logins", "list"))):  # fmt: skip
            result = invoke("--db", as_login(pg, login), *args)
            assert result.exit_code == 0, (login, result.output)
        # the stray login reads nothing here any more
        with (
            pytest.raises(DBAPIError, match="permission denied"),
            connect(as_login(pg, stray)).connect() as conn,
        ):
            conn.execute(text("SELECT count(*) FROM proposals"))
        # and applying again moves nobody
        store = Store.open(pg)
        try:
            again = apply_grants(store, metadata.tables, legacy=(writer, auditor, admin_role))
        finally:
            store.dispose()
        assert again.moved == [] and [m.login for m in again.not_moved] == [stray]
        assert status(pg)["matches"] is True
    finally:
        admin.dispose()
        drop_roles(pg, [person, scheduler, checker, boss, stray, admin_role, auditor, writer])


def test_a_copy_gets_its_own_roles_and_a_hardened_database_still_works(pg: str) -> None:
    tag = uuid.uuid4().hex[:8]
    assert invoke("--db", pg, "db", "grants", "--apply").exit_code == 0
    original = roles_of(pg)
    theirs, ours = f"rft_{tag}_theirs", f"rft_{tag}_ours"
    admin = connect(pg)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{theirs}" LOGIN IN ROLE "{original.admin}"'))
    admin.dispose()
    # given a copy of the database in the same cluster (a staging copy)
    copy_name = f"{make_url(pg).database}_copy"
    copy = make_url(pg).set(database=copy_name).render_as_string(False)
    server = connect(make_url(pg).set(database="postgres").render_as_string(False))
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{copy_name}" TEMPLATE "{make_url(pg).database}"'))
    try:
        # then until its own grants are applied, the original's administrator is none here
        found = status(copy)
        assert found["matches"] is False and "copy" in str(found["problems"])
        listed = invoke("--db", as_login(copy, theirs), "db", "logins", "list")
        assert listed.exit_code == 1 and "only an administrator" in listed.stderr
        # when it is hardened (nobody may connect unless granted) and the owner applies the
        # grants on the copy
        with server.connect() as conn:
            conn.execute(text(f'REVOKE ALL ON DATABASE "{copy_name}" FROM PUBLIC'))
        looked = invoke("--db", copy, "db", "grants")
        assert looked.exit_code == 0, looked.output
        applied = invoke("--db", copy, "db", "grants", "--apply")
        assert applied.exit_code == 0, applied.output
        assert "this database is a copy" in applied.stdout
        assert f"not moved {theirs}" in applied.stdout  # listed, not let in
        mine = roles_of(copy)
        assert mine.prefix != original.prefix and status(copy)["matches"] is True
        assert f'CREATE ROLE "{mine.reader}" NOLOGIN' in looked.stdout  # what it said it would
        # then the original's login cannot even connect to it; a login of its own can, and reads
        with pytest.raises(OperationalError, match="permission denied for database"):
            connect(as_login(copy, theirs)).connect().close()
        server_admin = connect(copy)
        with server_admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{ours}" LOGIN IN ROLE "{mine.reader}"'))
        server_admin.dispose()
        listed = invoke("--db", as_login(copy, ours), "proposal", "list")
        assert listed.exit_code == 0, listed.output
        # and the original still has its roles, untouched by the copy's
        assert roles_of(pg) == original and status(pg)["matches"] is True
    finally:
        try:  # a failing drop still drops the copy (its roles are no clone's: conftest)
            drop_roles(copy, [ours])
            drop_database_roles(copy)
            drop_roles(pg, [theirs])
        finally:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)'))
            server.dispose()


def test_apply_says_which_privileges_it_lacks(pg: str) -> None:
    # given a login that neither owns the tables nor may create roles
    nobody = f"rft_{uuid.uuid4().hex[:8]}_nobody"
    admin = connect(pg)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{nobody}" LOGIN'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{nobody}"'))
    admin.dispose()
    try:
        # when it applies the grants, then it is told what it needs, in one line, exit 1
        result = invoke("--db", as_login(pg, nobody), "db", "grants", "--apply")
        assert result.exit_code == 1, result.output
        assert result.stderr.count("\n") == 1
        assert "ownership of the ruhrflow tables" in result.stderr
        assert "CREATEROLE, or ADMIN OPTION on the roles" in result.stderr
        assert status(pg)["matches"] is False  # nothing was applied
    finally:
        drop_roles(pg, [nobody])


def test_the_owner_with_createrole_applies_them_without_a_superuser(
    postgres_admin_url: str,
) -> None:
    # given a database created for an owner who is no superuser but may create roles, hardened,
    # and initialised by that owner (as the README's installation does)
    tag = uuid.uuid4().hex[:8]
    owner, reader, name = f"rft_{tag}_owner", f"rft_{tag}_reader", f"ruhrflow_t_{tag}own"
    server = connect(postgres_admin_url)
    with server.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN CREATEROLE'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
        conn.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
    url = make_url(postgres_admin_url).set(database=name, username=owner).render_as_string(False)
    superuser_url = make_url(postgres_admin_url).set(database=name).render_as_string(False)
    try:
        initialised = invoke("--db", url, "init")
        assert initialised.exit_code == 0, initialised.output
        # when it applies the grants
        applied = invoke("--db", url, "db", "grants", "--apply")
        # then that works, CONNECT included, and a person's login reads
        assert applied.exit_code == 0, applied.output
        assert "CONNECT not granted" not in applied.stdout
        with connect(url).connect() as conn:
            conn.execute(text(f'CREATE ROLE "{reader}" LOGIN IN ROLE "{roles_of(url).reader}"'))
        listed = invoke("--db", as_login(url, reader), "proposal", "list")
        assert listed.exit_code == 0, listed.output
        assert status(url)["matches"] is True
    finally:
        _drop_own_database(server, superuser_url, name, owner, (reader,))


def test_a_table_owner_who_does_not_own_the_database_is_told_what_to_run_for_connect(
    postgres_admin_url: str,
) -> None:
    # given the tables owned by a login with CREATEROLE, the database by somebody else
    tag = uuid.uuid4().hex[:8]
    owner, name = f"rft_{tag}_tables", f"ruhrflow_t_{tag}tbl"
    server = connect(postgres_admin_url)
    with server.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN CREATEROLE'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    superuser_url = make_url(postgres_admin_url).set(database=name).render_as_string(False)
    with connect(superuser_url).connect() as conn:
        conn.execute(text(f'GRANT CREATE ON SCHEMA public TO "{owner}"'))
    url = make_url(superuser_url).set(username=owner).render_as_string(False)
    try:
        assert invoke("--db", url, "init").exit_code == 0
        # when it applies the grants, then everything but CONNECT is applied, and it prints
        # the statement the database's owner runs
        applied = invoke("--db", url, "db", "grants", "--apply")
        assert applied.exit_code == 0, applied.output
        roles = roles_of(url)
        expected = (
            f'its owner runs: GRANT CONNECT ON DATABASE "{name}" TO "{roles.reader}",'
            f' "{roles.auditor}", "{roles.service}", "{roles.admin}";'
        )
        assert expected in applied.stdout, applied.stdout
        assert status(url)["matches"] is True
    finally:
        _drop_own_database(server, superuser_url, name, owner)


def test_the_test_runs_role_sweep_keeps_the_roles_of_a_database_with_the_same_stem(
    postgres_admin_url: str,
) -> None:
    """The tests drop the group roles of their dropped databases (tests/grants_support.py);
    a database whose name makes the same role names (upper case: the prefix's stem is lower
    case) keeps its roles while it exists."""
    digits = uuid.uuid4().hex[:12]
    database, role = f"RUHRFLOW_T_{digits.upper()}", f"rf_ruhrflow_t_{digits}_abcd_reader"
    engine = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def role_exists() -> bool:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            return found.first() is not None

    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        # given a database named like a test clone but for its case, with a role of that stem
        # when the sweeps run
        with engine.connect() as conn:
            assert drop_roles_of_dropped_database(conn, f"ruhrflow_t_{digits}") == []
        assert drop_orphaned_test_roles(postgres_admin_url) == []
        # then its role is kept, and dropped once the database is gone
        assert role_exists()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{database}"'))
        assert drop_orphaned_test_roles(postgres_admin_url) == []
        assert not role_exists()
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


def _drop_own_database(
    server: SqlEngine, superuser_url: str, name: str, owner: str, logins: tuple[str, ...] = ()
) -> None:
    """Drop what a test with a database of its own made: the logins and group roles it
    granted, then the database and its owner — those even when a role cannot be dropped."""
    try:
        if logins:
            drop_roles(superuser_url, logins)
        drop_database_roles(superuser_url)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        server.dispose()
