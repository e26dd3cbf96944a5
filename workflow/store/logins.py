"""The PostgreSQL logins' table ``logins`` and the catalog questions about the current login
(``session_user``, its memberships in this database's group roles, the tables' owner).

Each function runs on the connection it is given; what the answers allow is
:mod:`workflow.access.logins`'s (and :mod:`workflow.access.identity`'s) policy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, text, update

from workflow.store.db import Connection
from workflow.store.schema import logins


def _member_of(kind: str) -> str:
    """SQL: whether the login is a member of this database's group role ``kind`` (the prefix
    in ``db_roles``, and only when it was made for this database: a copy's roles are another
    database's until ``db grants --apply`` gives it its own)."""
    return (
        "EXISTS (SELECT 1 FROM db_roles d JOIN pg_roles r ON r.rolname = d.prefix || "
        f"'_{kind}' WHERE d.id = 1 AND d.database = current_database()"
        " AND pg_has_role(session_user, r.oid, 'MEMBER'))"
    )


_RIGHTS = text(
    "SELECT session_user AS login,"
    " COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)"
    f"  OR {_member_of('admin')}"
    "  OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = to_regclass('proposals')"
    "             AND pg_has_role(session_user, c.relowner, 'MEMBER')) AS administrator,"
    f" {_member_of('service')} AS service, {_member_of('auditor')} AS auditor,"
    " l.actor_id, l.role, l.ministry, l.forum, l.may_impersonate, l.may_set_clock, l.scheduler"
    " FROM (SELECT 1) AS one LEFT JOIN logins l ON l.login = session_user"
)


def current_rights(conn: Connection) -> RowMapping:
    """PostgreSQL only: the current login (``login``), whether it is an ``administrator``
    (superuser, member of ``<prefix>_admin``, or of the tables' owner), a member of
    ``service`` and of ``auditor``, and its ``logins`` entry (``actor_id``, ``role``,
    ``ministry``, ``forum``, ``may_impersonate``, ``may_set_clock``, ``scheduler``; None
    without one)."""
    return conn.execute(_RIGHTS).mappings().one()


def session_user(conn: Connection) -> str:
    """PostgreSQL only: the login of the connection (``session_user``: ``SET ROLE`` does not
    change it)."""
    return str(conn.execute(text("SELECT session_user")).scalar_one())


def role_exists(conn: Connection, login: str) -> bool:
    """PostgreSQL only: whether a role named ``login`` exists."""
    stmt = text("SELECT 1 FROM pg_roles WHERE rolname = :login")
    return conn.execute(stmt, {"login": login}).first() is not None


def put_login(conn: Connection, login: str, values: dict[str, Any]) -> None:
    """The entry of ``login`` with ``values`` (its columns but ``login``), replacing one."""
    changed = conn.execute(update(logins).where(logins.c.login == login).values(**values))
    if changed.rowcount == 0:
        conn.execute(insert(logins).values(login=login, **values))


def delete_login(conn: Connection, login: str) -> bool:
    """Delete the entry of ``login``; False when there was none."""
    return bool(conn.execute(delete(logins).where(logins.c.login == login)).rowcount)


def login_rows(conn: Connection) -> list[RowMapping]:
    """Every entry of ``logins``, by login."""
    return list(conn.execute(select(logins).order_by(logins.c.login)).mappings().all())
