"""The PostgreSQL group roles of one database, their grants, and whether they are applied.

People act through the service, never on its database (#24): on PostgreSQL only the
service's logins (``ruhrflow serve``, the scheduler) and administrators change the process
tables; every other login reads. The database enforces it whatever client a login uses:

- ``<prefix>_reader`` — every person's login (coordinators, forum leads, ministries): reads
  every ruhrflow table except the web application's (``web_*``), changes nothing;
- ``<prefix>_auditor`` — reads as a reader does and adds only its own checkpoint and
  verification entries on ``@system``: row-level security admits a history row from it only
  when its actor ref names the login's mapped actor and its effective time ``at`` is the
  server's (within :data:`AT_TOLERANCE`), and an actor ref only for its mapped actor;
- ``<prefix>_service`` — the logins ``ruhrflow serve`` and the scheduler run as: write the
  process tables and add history (never change or delete it), deliver the outbox, pseudonymise
  actor refs, and the web application's tables (accounts, token digests, session secret);
- ``<prefix>_admin`` — a service login that also manages ``logins``.

Roles are cluster-wide, so their names are per database (#23.5): the prefix lives in the one
row of ``db_roles`` together with the database it was made for (migration 0011). A database
copied with ``CREATE DATABASE … TEMPLATE`` still names the original's roles: the next
:func:`apply_grants` sees that ``current_database()`` differs, makes a new prefix and takes
every right away from the original's roles, so that its logins do not reach the copy.

Upgrading from 0.1.0/0.2.0, whose roles ``ruhrflow_writer``/``_auditor``/``_admin`` were
shared by every database of the cluster: :func:`apply_grants` takes every right on this
database from them and moves their members over (:func:`membership_plan`) — a writer mapped
in this database's ``logins`` becomes a reader (the scheduler's login, mapped to a system
actor with ``--scheduler``, a service login), an auditor an auditor, an administrator an
administrator; members not mapped here are listed with the statement to run, not moved.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from workflow.errors import InvalidInput, PermissionDenied
from workflow.store.attribution import COMMITTED_LENGTH
from workflow.store.db import Store

# Bump when the statements below change: ``db status`` then says the grants are outdated.
GRANTS_VERSION = "0.3.0"
# The cluster-wide group roles of 0.1.0 and 0.2.0.
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
GROUP_OF_ROLE = {
    "coordinator": "reader",
    "forum_lead": "reader",
    "ministry": "reader",
    "auditor": "auditor",
    "system": "service",
}
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


def make_prefix(database: str, taken: Iterable[str] = (), seed: str | None = None) -> str:
    """``rf_<database, 24 characters of [a-z0-9_]>_<4 hex digits>``, not in ``taken``.

    The digits are random, or, with ``seed`` (the installation id), derived from it and the
    database's name, so that ``db grants`` shows the names ``db grants --apply`` will use.
    """
    stem = re.sub(r"[^a-z0-9_]", "_", database.lower())[:24]
    used = set(taken)
    for n in itertools.count():
        digits = (
            secrets.token_hex(2)
            if seed is None
            else hashlib.sha256(f"{seed}:{database}:{n}".encode()).hexdigest()[:4]
        )
        prefix = f"rf_{stem}_{digits}"
        if prefix not in used:
            return prefix
    raise AssertionError("unreachable")


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


# --- the state in the database ----------------------------------------------------------------


@dataclass(frozen=True)
class Prefix:
    """The role prefix of the database behind a connection, and where it came from."""

    roles: Roles
    stored: str | None  # the prefix in db_roles (None: no row)
    made_for: str | None  # the database it was made for
    database: str  # current_database()

    @property
    def fresh(self) -> bool:
        """Whether the stored prefix must be replaced (none, or made for another database)."""
        return self.stored is None or self.made_for != self.database

    @property
    def previous(self) -> Roles | None:
        """The roles a copied or renamed database still names (another database's)."""
        if self.stored is not None and self.made_for != self.database:
            return Roles(self.stored)
        return None


def read_prefix(conn: Connection) -> Prefix:
    """The prefix this database uses, or a new one to store if it has none of its own."""
    database = str(conn.execute(text("SELECT current_database()")).scalar_one())
    row = conn.execute(text("SELECT prefix, database FROM db_roles WHERE id = 1")).first()
    stored, made_for = (row[0], row[1]) if row is not None else (None, None)
    if stored is not None and made_for == database:
        return Prefix(Roles(stored), stored, made_for, database)
    taken = {
        str(r[0]).rsplit("_", 1)[0]
        for r in conn.execute(text(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'rf\_%'"))
    }
    seed = conn.execute(text("SELECT installation_id FROM installation WHERE id = 1")).scalar()
    prefix = make_prefix(database, taken, seed=str(seed) if seed else None)
    return Prefix(Roles(prefix), stored, made_for, database)


@dataclass(frozen=True)
class Move:
    """One login to move from an earlier group role to one of this database's."""

    login: str
    old: str
    new: str
    mapped: bool  # moved only when mapped in this database's logins (administrators always)

    def statement(self) -> str:
        return f"GRANT {ident(self.new)} TO {ident(self.login)}"


def membership_plan(
    conn: Connection, roles: Roles, old: Mapping[str, str], *, move: bool = True
) -> list[Move]:
    """Who is a member of a role of ``old`` (its name -> ``writer``, ``reader``, ``auditor``,
    ``service`` or ``admin``: an earlier release's roles, or the copied database's), and which
    role of this database each gets. With ``move`` false nobody is to be moved (only listed)."""
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
    group_roles = re.compile(r"rf_.*_(reader|auditor|service|admin)")
    moves: list[Move] = []
    for row in rows:
        login, kind = str(row["login"]), old[row["old"]]
        if group_roles.fullmatch(login):
            continue
        if kind == "writer":  # 0.1.0/0.2.0: people and the scheduler alike
            scheduler = row["role"] == "system" and bool(row["scheduler"])
            kind = "service" if scheduler else "reader"
        new = getattr(roles, kind)
        already = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles t WHERE t.rolname = :new"
                " AND pg_has_role(:member, t.oid, 'MEMBER'))"
            ),
            {"new": new, "member": row["member"]},
        ).scalar_one()
        if already:
            continue
        # administrators always (they had the rights here before); others when mapped here
        mapped = move and (kind == "admin" or bool(row["mapped"]))
        moves.append(Move(login, str(row["old"]), new, mapped))
    return moves


@dataclass
class Report:
    """What :func:`apply_grants` did (or, in a dry run, would do)."""

    roles: Roles
    statements: list[str]
    moved: list[Move] = field(default_factory=list)
    not_moved: list[Move] = field(default_factory=list)
    previous: Roles | None = None  # the copied database's roles, now without rights here
    connect_note: str | None = None  # CONNECT could not be granted: what to run instead
    dry_run: bool = False  # nothing was changed: the lines say what --apply would do

    def lines(self) -> list[str]:
        """What changed, for people (one item per line)."""
        r = self.roles
        out = [
            f"roles of this database: {r.reader} (people: read), {r.auditor} (read, own"
            f" checkpoints), {r.service} (ruhrflow serve, the scheduler: write),"
            f" {r.admin} (the service's rights and logins)"
        ]
        if self.previous is not None:
            out.append(
                f"this database is a copy (or was renamed): the roles {self.previous.prefix}_*"
                " of the database it came from have no rights here any more"
            )
        for move in self.moved:
            verb = "would move" if self.dry_run else "moved"
            out.append(f"{verb} {move.login}: member of {move.old} -> {move.new}")
        for move in self.not_moved:
            out.append(
                f"not moved {move.login} (member of {move.old}, no entry in this database's"
                f" logins): if it works on this database, run: {move.statement()};"
            )
        if self.connect_note:
            out.append(self.connect_note)
        return out


def _current(conn: Connection) -> dict[str, Any]:
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


def _may_grant(conn: Connection, role: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r"
                " AND pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION'))"
            ),
            {"r": role},
        ).scalar_one()
    )


def missing_privileges(conn: Connection, roles: Roles) -> list[str]:
    """What the current login lacks to apply the grants (empty: it may)."""
    me = _current(conn)
    if me["superuser"]:
        return []
    missing = []
    if not me["owns_tables"]:
        missing.append(
            "ownership of the ruhrflow tables (run as the login that ran `ruhrflow init`)"
        )
    if not me["createrole"] and not all(_may_grant(conn, r) for r in roles.all()):
        names = ", ".join(roles.all())
        missing.append(
            f"CREATEROLE, or ADMIN OPTION on the roles {names} (a superuser runs: CREATE ROLE"
            f" … NOLOGIN; GRANT … TO {me['login']} WITH ADMIN OPTION; for each)"
        )
    return missing


def apply_grants(
    store: Store,
    tables: Iterable[str],
    schema: str = "public",
    *,
    legacy: Sequence[str] = LEGACY_ROLES,
    dry_run: bool = False,
) -> Report:
    """Create this database's roles, set every privilege, move the logins of ``legacy`` (or of
    the database this one was copied from) and record the applied version in ``db_roles``.

    Needs a superuser, or the owner of the tables with CREATEROLE (or ADMIN OPTION on the
    roles); CONNECT on the database is granted only by its owner (else the report says what to
    run). One transaction: all of it or nothing. ``dry_run``: compute the same, change nothing.
    """
    from sqlalchemy.exc import DBAPIError

    if store.dialect != "postgresql":
        raise InvalidInput(
            "database roles exist only on PostgreSQL; a SQLite file is protected by its"
            " file permissions (chmod 600 and one office per file)"
        )
    with store.read() as conn:
        found = read_prefix(conn)
        roles = found.roles
        me = _current(conn)
        missing = [] if dry_run else missing_privileges(conn, roles)
        foreign = [*legacy]
        previous = found.previous
        if previous is not None:
            foreign += [*previous.all()]
        kinds = ("writer", "auditor", "admin")
        plan = membership_plan(conn, roles, dict(zip(legacy, kinds, strict=True)))
        if previous is not None:
            theirs = dict(
                zip(previous.all(), ("reader", "auditor", "service", "admin"), strict=True)
            )
            plan += membership_plan(conn, roles, theirs, move=False)
    if missing:
        raise PermissionDenied(
            me["login"], "apply the grants", None, "it needs " + "; ".join(missing)
        )
    connect = bool(me["superuser"] or me["owns_database"])
    statements = grant_statements(tables, roles, schema, foreign=foreign, connect=connect)
    moved = [m for m in plan if m.mapped]
    report = Report(
        roles,
        statements + [m.statement() for m in moved],
        moved=moved,
        not_moved=[m for m in plan if not m.mapped],
        previous=previous,
        connect_note=None
        if connect
        else (
            "CONNECT not granted (only the database's owner may): where PUBLIC has no CONNECT,"
            f" its owner runs: GRANT CONNECT ON DATABASE {ident(found.database)} TO"
            f" {', '.join(ident(r) for r in roles.all())};"
        ),
        dry_run=dry_run,
    )
    if dry_run:
        return report
    try:
        with store.write() as conn:
            for statement in report.statements:
                conn.exec_driver_sql(statement)
            conn.execute(
                text(
                    "INSERT INTO db_roles (id, prefix, database) VALUES (1, :p, :d)"
                    " ON CONFLICT (id) DO UPDATE SET prefix = :p, database = :d"
                ),
                {"p": roles.prefix, "d": found.database},
            )
            conn.execute(
                text(
                    "UPDATE db_roles SET grants_version = :v, applied_at = now(),"
                    " applied_by = session_user,"
                    " grants_revision = (SELECT version_num FROM alembic_version LIMIT 1)"
                    " WHERE id = 1"
                ),
                {"v": GRANTS_VERSION},
            )
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise PermissionDenied(me["login"], "apply the grants", None, reason) from None
    return report


def grants_status(conn: Connection) -> dict[str, Any]:
    """Whether the grants of this version are applied to the database behind ``conn``.

    For ``ruhrflow db status``: ``roles`` (names by kind, None on SQLite), ``matches`` (True,
    False, or None on SQLite where there are no roles), ``problems`` (why not, one line each,
    with what to run), and what was applied when by whom.
    """
    if conn.dialect.name != "postgresql":
        return {"backend": conn.dialect.name, "roles": None, "matches": None, "problems": []}
    out: dict[str, Any] = {
        "backend": "postgresql",
        "expected_version": GRANTS_VERSION,
        "roles": None,
        "matches": False,
        "problems": [],
    }
    problems: list[str] = out["problems"]
    if conn.execute(text("SELECT to_regclass('db_roles')")).scalar_one() is None:
        problems.append("the schema is older than this ruhrflow: run `ruhrflow init`")
        return out
    database = str(conn.execute(text("SELECT current_database()")).scalar_one())
    row = (
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
    apply = "run `ruhrflow db grants --apply` as the owner"
    if row is None:
        problems.append(f"no role prefix recorded: {apply}")
        return out
    roles = Roles(row["prefix"])
    out.update(
        roles=roles.as_dict(),
        prefix=roles.prefix,
        applied_version=row["grants_version"],
        applied_revision=row["grants_revision"],
        schema_revision=row["revision"],
        applied_at=row["applied_at"].isoformat() if row["applied_at"] else None,
        applied_by=row["applied_by"],
    )
    if row["database"] != database:
        problems.append(
            f"the roles were made for the database {row['database']!r} (this is a copy, or it"
            f" was renamed): {apply} to give it roles of its own"
        )
    if row["grants_version"] is None:
        problems.append(f"the grants were never applied: {apply}")
    elif row["grants_version"] != GRANTS_VERSION:
        problems.append(f"grants of {row['grants_version']} applied, not {GRANTS_VERSION}: {apply}")
    elif row["grants_revision"] != row["revision"]:
        problems.append(f"the schema changed since the grants were applied: {apply}")
    existing = {
        str(r[0])
        for r in conn.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:r)"), {"r": list(roles.all())}
        )
    }
    absent = [r for r in roles.all() if r not in existing]
    if absent:
        problems.append(f"missing roles {', '.join(absent)}: {apply}")
    writing = conn.execute(
        text(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(:legacy)"
            " AND (has_table_privilege(oid, 'proposals', 'INSERT, UPDATE, DELETE')"
            "      OR has_table_privilege(oid, 'outbox', 'INSERT, UPDATE, DELETE')"
            "      OR has_table_privilege(oid, 'history', 'INSERT'))"
            " ORDER BY rolname"
        ),
        {"legacy": list(LEGACY_ROLES)},
    ).all()
    if writing:
        names = ", ".join(str(r[0]) for r in writing)
        problems.append(f"roles of an earlier release still write here ({names}): {apply}")
    out["matches"] = not problems
    return out
