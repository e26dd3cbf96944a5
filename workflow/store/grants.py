"""The PostgreSQL roles of one database in SQL: the grants' DDL and the catalog queries.

The policy — which group roles a database has, who is moved where, whether the grants are
current — is :mod:`workflow.access.grants`; this module holds every statement it runs. Each
function's contract is in its docstring; all of them are PostgreSQL's (a SQLite file has no
roles).

The tables fall into classes by who may change them: the owner only (``OWNER_ONLY``), the
administrators (``ADMIN_ONLY``), append-only history (``APPEND_ONLY``), the web
application's (``web_*``), and every other one, a process table the service writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from workflow.errors import PermissionDenied
from workflow.store.attribution import COMMITTED_LENGTH
from workflow.store.db import Connection, RowMapping, Store

LEGACY_ROLES = ("ruhrflow_writer", "ruhrflow_auditor", "ruhrflow_admin")
# How far an auditor's entry's effective time ``at`` may lie from the server's ``now()``.
AT_TOLERANCE = "5 minutes"
# Written only by the database owner (``ruhrflow init``: migrations, definition versions,
# the installation id, the role prefix), ``logins`` only by administrators.
OWNER_ONLY = ("definitions", "alembic_version", "installation", "db_roles")
ADMIN_ONLY = ("logins",)
# Rows never change once written: SELECT and INSERT for the service, nothing else for anyone.
APPEND_ONLY = ("history",)
# The service adds refs and pseudonymises them (these columns; a trigger of migration 0006
# refuses every other change): changing the actor behind a ref re-attributes history.
PSEUDONYMISE_COLUMNS = "actor_id, pseudonymised_at, salt"
# The web application's accounts, token digests, login throttle and session secret: whoever
# reads or changes them can log in to the web application as anybody.
WEB_PREFIX = "web_"
AUDITOR_KINDS = ("checkpoint", "verification")
# Which group role a directory role's login joins.
_MAPPED_ACTOR = "(SELECT l.actor_id FROM logins l WHERE l.login = session_user)"


@dataclass(frozen=True)
class Roles:
    """The group roles of one database."""

    prefix: str

    @property
    def reader(self) -> str:
        return f"{self.prefix}_reader"

    @property
    def auditor(self) -> str:
        return f"{self.prefix}_auditor"

    @property
    def service(self) -> str:
        return f"{self.prefix}_service"

    @property
    def admin(self) -> str:
        return f"{self.prefix}_admin"

    def all(self) -> tuple[str, str, str, str]:
        return (self.reader, self.auditor, self.service, self.admin)

    def as_dict(self) -> dict[str, str]:
        return {
            "reader": self.reader,
            "auditor": self.auditor,
            "service": self.service,
            "admin": self.admin,
        }


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string."""
    return "'" + value.replace("'", "''") + "'"


def _if_role(role: str, statement: str) -> str:
    """``statement`` for a role that may not exist (one of another release or database)."""
    return (
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)})"
        f" THEN EXECUTE {literal(statement)}; END IF; END $$"
    )


def grant_statements(
    tables: Iterable[str],
    roles: Roles,
    schema: str = "public",
    *,
    foreign: Sequence[str] = LEGACY_ROLES,
    connect: bool = True,
) -> list[str]:
    """The SQL (one statement per item) that creates the roles and sets every privilege.

    ``tables`` are the ruhrflow tables; one not named in the lists above is a process table
    (the service writes it). ``foreign`` are roles that must keep no right here (those of
    earlier releases, of the database this one was copied from). ``connect``: grant CONNECT
    on the database (needs its owner), so a database without CONNECT for PUBLIC works.
    """
    names = sorted(set(tables) | set(OWNER_ONLY) | set(ADMIN_ONLY))
    s = ident(schema)
    reader, auditor, service, admin = (ident(r) for r in roles.all())
    ours = f"{reader}, {auditor}, {service}, {admin}"
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(r)})"
        f" THEN CREATE ROLE {ident(r)} NOLOGIN; END IF; END $$"
        for r in roles.all()
    ]
    for role in foreign:
        r = ident(role)
        out += [
            _if_role(role, f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}"),
            _if_role(role, f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"),
            _if_role(role, f"REVOKE ALL ON SCHEMA {s} FROM {r}"),
            _if_role(
                role,
                "DO $x$ BEGIN EXECUTE 'REVOKE ALL ON DATABASE '"
                f" || quote_ident(current_database()) || ' FROM ' || quote_ident({literal(role)});"
                " END $x$",
            ),
        ]
    out += [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC, {ours}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC, {ours}",
        f"GRANT USAGE ON SCHEMA {s} TO {ours}",
        f"GRANT {service} TO {admin}",  # an administrator does what the service does
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {service}, {auditor}",
    ]
    if connect:
        out.append(
            "DO $$ BEGIN EXECUTE 'GRANT CONNECT ON DATABASE '"
            f" || quote_ident(current_database()) || ' TO {ours}'; END $$"
        )
    for name in names:
        table = f"{s}.{ident(name)}"
        if name.startswith(WEB_PREFIX):
            out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {service}")
            continue
        out.append(f"GRANT SELECT ON {table} TO {reader}, {auditor}, {service}")
        if name in ADMIN_ONLY:
            out.append(f"GRANT INSERT, UPDATE, DELETE ON {table} TO {admin}")
        elif name == "installation":  # `db new-installation` on a copy: administrators
            out.append(f"GRANT UPDATE ON {table} TO {admin}")
        elif name in APPEND_ONLY:
            out.append(f"GRANT INSERT ON {table} TO {service}, {auditor}")
        elif name == "system_chain_lock":  # appends to @system lock its row FOR UPDATE
            out.append(f"GRANT UPDATE ON {table} TO {service}, {auditor}")
        elif name == "actor_refs":
            out.append(f"GRANT INSERT, UPDATE ({PSEUDONYMISE_COLUMNS}) ON {table} TO {service}")
            out.append(f"GRANT INSERT ON {table} TO {auditor}")
        elif name not in OWNER_ONLY:
            out.append(f"GRANT INSERT, UPDATE, DELETE ON {table} TO {service}")
    out += _policies(s, roles)
    for name in APPEND_ONLY:
        table = f"{s}.{ident(name)}"
        out.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, {ours}")
        # The owner holds every privilege by default; take these three away from it too.
        out.append(
            "DO $$ DECLARE owner name; BEGIN"
            f" SELECT tableowner INTO owner FROM pg_tables"
            f" WHERE schemaname = {literal(schema)} AND tablename = {literal(name)};"
            " IF owner IS NOT NULL THEN EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON '"
            f" || {literal(table)} || ' FROM ' || quote_ident(owner);"
            " END IF; END $$"
        )
    return out


def _policies(s: str, roles: Roles) -> list[str]:
    """Row-level security on history and actor_refs (the owner and superusers bypass it)."""
    history = f"{s}.{ident('history')}"
    refs = f"{s}.{ident('actor_refs')}"
    service, auditor = ident(roles.service), ident(roles.auditor)
    kinds = ", ".join(literal(k) for k in AUDITOR_KINDS)
    # The auditor's entry: its own kinds on @system, its own actor, the server's time.
    own_entry = (
        f"chain = '@system' AND kind IN ({kinds})"
        f" AND actor_ref IN (SELECT r.ref FROM {refs} r WHERE r.actor_id = {_MAPPED_ACTOR})"
        # clock_timestamp(), not now(): now() is the start of the transaction, and an
        # auditor could hold one open for an hour to backdate its entry
        f" AND at BETWEEN clock_timestamp() - interval {literal(AT_TOLERANCE)}"
        f" AND clock_timestamp() + interval {literal(AT_TOLERANCE)}"
    )
    out = []
    for table, policies in (
        (
            history,
            [
                ("ruhrflow_read", "FOR SELECT USING (true)"),
                ("ruhrflow_write", f"FOR INSERT TO {service} WITH CHECK (true)"),
                ("ruhrflow_checkpoint", f"FOR INSERT TO {auditor} WITH CHECK ({own_entry})"),
            ],
        ),
        (
            refs,
            [
                ("ruhrflow_read", "FOR SELECT USING (true)"),
                ("ruhrflow_write", f"FOR ALL TO {service} USING (true) WITH CHECK (true)"),
                (
                    "ruhrflow_own_ref",
                    # its own actor, now, salted (a commitment `audit verify` can open), not
                    # pseudonymised: a backdated or unsalted ref would be picked first
                    f"FOR INSERT TO {auditor} WITH CHECK (actor_id = {_MAPPED_ACTOR}"
                    f" AND created_at BETWEEN clock_timestamp() - interval {literal(AT_TOLERANCE)}"
                    f" AND clock_timestamp() + interval {literal(AT_TOLERANCE)}"
                    f" AND salt IS NOT NULL AND pseudonymised_at IS NULL"
                    f" AND length(ref) = {COMMITTED_LENGTH})",
                ),
            ],
        ),
    ):
        out.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        for name, body in policies:
            out.append(f"DROP POLICY IF EXISTS {name} ON {table}")
            out.append(f"CREATE POLICY {name} ON {table} {body}")
    return out


# --- the catalog ------------------------------------------------------------------------------


def current_database(conn: Connection) -> str:
    """``current_database()``."""
    return str(conn.execute(text("SELECT current_database()")).scalar_one())


def stored_prefix(conn: Connection) -> tuple[str | None, str | None]:
    """``(prefix, database it was made for)`` from ``db_roles``; ``(None, None)`` without a
    row."""
    row = conn.execute(text("SELECT prefix, database FROM db_roles WHERE id = 1")).first()
    return (row[0], row[1]) if row is not None else (None, None)


def taken_prefixes(conn: Connection) -> set[str]:
    """The prefixes of every ruhrflow group role of the cluster (``rf_…``)."""
    return {
        str(r[0]).rsplit("_", 1)[0]
        for r in conn.execute(text(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'rf\_%'"))
    }


def installation_seed(conn: Connection) -> str | None:
    """The installation id (the seed of a derived prefix), or None before one is made."""
    seed = conn.execute(text("SELECT installation_id FROM installation WHERE id = 1")).scalar()
    return str(seed) if seed else None


def members_of(conn: Connection, old: Iterable[str]) -> list[Mapping[str, Any]]:
    """The members of the roles ``old`` that are not themselves one of them, ordered by login:
    ``{"login", "old" (the role), "role", "scheduler" (its row in this database's logins, or
    None), "mapped" (whether it has one), "member" (its oid)}``."""
    rows = conn.execute(
        text(
            "SELECT m.rolname AS login, g.rolname AS old, l.role, l.scheduler,"
            " l.login IS NOT NULL AS mapped, m.oid AS member"
            " FROM pg_auth_members a"
            " JOIN pg_roles g ON g.oid = a.roleid"
            " JOIN pg_roles m ON m.oid = a.member"
            " LEFT JOIN logins l ON l.login = m.rolname"
            " WHERE g.rolname = ANY(:old) AND NOT (m.rolname = ANY(:old))"
            " ORDER BY m.rolname, g.rolname"
        ),
        {"old": list(old)},
    ).mappings()
    return [dict(r) for r in rows]


def is_member(conn: Connection, role: str, member: Any) -> bool:
    """Whether the role with oid ``member`` is a member of ``role`` (directly or not)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles t WHERE t.rolname = :new"
                " AND pg_has_role(:member, t.oid, 'MEMBER'))"
            ),
            {"new": role, "member": member},
        ).scalar_one()
    )


def current_login(conn: Connection) -> dict[str, Any]:
    """The current login: ``{"login", "superuser", "createrole", "owns_tables" (member of
    the owner of ``proposals``), "owns_database"}``."""
    return dict(
        conn.execute(
            text(
                "SELECT current_user AS login, r.rolsuper AS superuser,"
                " r.rolcreaterole AS createrole,"
                " EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = to_regclass('proposals')"
                "         AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owns_tables,"
                " EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = current_database()"
                "         AND pg_has_role(current_user, d.datdba, 'MEMBER')) AS owns_database"
                " FROM pg_roles r WHERE r.rolname = current_user"
            )
        )
        .mappings()
        .one()
    )


def may_grant(conn: Connection, role: str) -> bool:
    """Whether the current login holds ``role`` with ADMIN OPTION (may grant it)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r"
                " AND pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION'))"
            ),
            {"r": role},
        ).scalar_one()
    )


def apply_statements(
    store: Store,
    statements: Sequence[str],
    *,
    prefix: str,
    database: str,
    version: str,
    login: str,
) -> None:
    """Run ``statements`` and record in ``db_roles`` the prefix, the database it is for, the
    grants' ``version``, when, by whom and at which schema revision — one transaction.

    A statement the database refuses raises PermissionDenied for ``login`` with its reason
    (the first line of the database's message); nothing is changed then.
    """
    try:
        with store.write() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
            conn.execute(
                text(
                    "INSERT INTO db_roles (id, prefix, database) VALUES (1, :p, :d)"
                    " ON CONFLICT (id) DO UPDATE SET prefix = :p, database = :d"
                ),
                {"p": prefix, "d": database},
            )
            conn.execute(
                text(
                    "UPDATE db_roles SET grants_version = :v, applied_at = now(),"
                    " applied_by = session_user,"
                    " grants_revision = (SELECT version_num FROM alembic_version LIMIT 1)"
                    " WHERE id = 1"
                ),
                {"v": version},
            )
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise PermissionDenied(login, "apply the grants", None, reason) from None


def has_roles_table(conn: Connection) -> bool:
    """Whether the schema has ``db_roles`` (migration 0011)."""
    return conn.execute(text("SELECT to_regclass('db_roles')")).scalar_one() is not None


def applied(conn: Connection) -> RowMapping | None:
    """The row of ``db_roles`` (``prefix``, ``database``, ``grants_version``,
    ``grants_revision``, ``applied_at``, ``applied_by``) with the schema's ``revision``; None
    without a row."""
    return (
        conn.execute(
            text(
                "SELECT prefix, database, grants_version, grants_revision, applied_at,"
                " applied_by, (SELECT version_num FROM alembic_version LIMIT 1) AS revision"
                " FROM db_roles WHERE id = 1"
            )
        )
        .mappings()
        .first()
    )


def existing_roles(conn: Connection, names: Iterable[str]) -> set[str]:
    """Those of ``names`` that exist in the cluster."""
    return {
        str(r[0])
        for r in conn.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:r)"), {"r": list(names)}
        )
    }


def roles_still_writing(conn: Connection, names: Iterable[str]) -> list[str]:
    """Those of ``names`` that may still change the process tables or add history, by name."""
    rows = conn.execute(
        text(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(:legacy)"
            " AND (has_table_privilege(oid, 'proposals', 'INSERT, UPDATE, DELETE')"
            "      OR has_table_privilege(oid, 'outbox', 'INSERT, UPDATE, DELETE')"
            "      OR has_table_privilege(oid, 'history', 'INSERT'))"
            " ORDER BY rolname"
        ),
        {"legacy": list(names)},
    ).all()
    return [str(r[0]) for r in rows]
