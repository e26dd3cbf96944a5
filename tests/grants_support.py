"""Helpers for tests of the PostgreSQL roles: this database's group roles, and dropping them.

Every test database is a clone of one template, so ``db grants --apply`` gives each its own
role prefix (the clone is a copy of the template): tests that run at the same time, here or
in another engineer's run on the same server, never share a role. Roles are cluster-wide and
outlive the database, so a test drops the ones it made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from workflow.access.grants import Roles


def roles_of(url: str) -> Roles:
    """The group roles of the database at ``url`` (after ``db grants --apply``)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return Roles(str(conn.execute(text("SELECT prefix FROM db_roles")).scalar_one()))
    finally:
        engine.dispose()


def drop_roles(url: str, names: Iterable[str]) -> None:
    """Drop the roles ``names`` that exist (their rights in the database at ``url`` first)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for name in names:
                if conn.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}
                ).first():
                    quoted = '"' + name.replace('"', '""') + '"'
                    conn.execute(text(f"DROP OWNED BY {quoted}"))
                    conn.execute(text(f"DROP ROLE {quoted}"))
    finally:
        engine.dispose()


def drop_database_roles(url: str) -> None:
    """Drop the group roles of the database at ``url`` (none yet: nothing to drop).

    A database whose test failed before ``init`` has no ``db_roles`` table: nothing to drop
    either, and the orphans of other test databases still are.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            prefix = None
            if conn.execute(text("SELECT to_regclass('db_roles') IS NOT NULL")).scalar():
                prefix = conn.execute(text("SELECT prefix, database = current_database()"
                                           " FROM db_roles")).first()  # fmt: skip
    finally:
        engine.dispose()
    try:
        if prefix is not None and prefix[1]:  # roles of its own, not the template's
            drop_roles(url, reversed(Roles(str(prefix[0])).all()))
    finally:
        drop_orphaned_test_roles(url)


# The group roles of a test database: ``rf_ruhrflow_t_<12 hex>_<4 hex>_<kind>``. The clones'
# names (conftest.PostgresClones: ``ruhrflow_t_<12 hex>``, 23 characters) are the whole stem
# of the prefix (24 characters of [a-z0-9_]), so a role names its database exactly.
_KINDS = "(reader|auditor|service|admin)"
TEST_DATABASE = re.compile(r"ruhrflow_t_[0-9a-f]{12}")
# A database's stem as workflow.access.grants.make_prefix makes it (lower case, [a-z0-9_],
# 24 characters): "no database of that name" must mean no database whose roles these could
# be — ``RUHRFLOW_T_…`` or ``ruhrflow-t-…`` make the same names.
_STEM = "left(regexp_replace(lower(d.datname), '[^a-z0-9_]', '_', 'g'), 24)"


def drop_roles_of_dropped_database(conn: Connection, database: str) -> list[str]:
    """Drop the group roles ``db grants --apply`` made for the test database ``database``,
    which has been dropped; return what could not be dropped (a role still used elsewhere).

    Only a clone's name (:data:`TEST_DATABASE`) is looked for, and only while no database of
    that name exists: the roles of other databases of the cluster are never touched.
    ``conn`` is in autocommit (a refused ``DROP ROLE`` must not end the others).
    """
    if not TEST_DATABASE.fullmatch(database):
        return []
    names = conn.execute(
        text(
            "SELECT rolname FROM pg_roles WHERE rolname ~ :pattern AND NOT rolcanlogin"
            f" AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE {_STEM} = :database)"
            " ORDER BY rolname LIKE '%\\_admin' DESC, rolname"
        ),
        {"pattern": f"^rf_{database}_[0-9a-f]{{4}}_{_KINDS}$", "database": database},
    ).scalars()
    return _drop_each(conn, list(names))


def _drop_each(conn: Connection, names: list[str]) -> list[str]:
    left = []
    for name in names:
        try:
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        except DBAPIError as exc:  # another run uses it, or drops it: not ours to force
            left.append(f"{name}: {str(exc.orig).splitlines()[0]}")
    return left


def drop_orphaned_test_roles(url: str) -> list[str]:
    """Drop the group roles of test databases that no longer exist; return those left.

    A test run that is killed never reaches its teardown; its database is dropped by the
    next run's clone cleanup or by hand, its cluster-wide roles stay. Only roles named for a
    test database (``rf_ruhrflow_t_<12 hex>_<4 hex>_<kind>``) whose database is gone are
    dropped, so runs at the same time never take each other's.
    """
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            orphans = conn.execute(
                text(
                    "SELECT rolname FROM pg_roles r WHERE rolname ~"
                    f" '^rf_ruhrflow_t_[0-9a-f]{{12}}_[0-9a-f]{{4}}_{_KINDS}$'"
                    " AND NOT r.rolcanlogin AND NOT EXISTS (SELECT 1 FROM pg_database d"
                    f"   WHERE {_STEM} = substring(r.rolname from 4 for 23))"
                    " ORDER BY rolname LIKE '%\\_admin' DESC"
                )
            ).scalars()
            return _drop_each(conn, list(orphans))
    finally:
        engine.dispose()
