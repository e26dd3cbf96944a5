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

from workflow.errors import InvalidInput, PermissionDenied
from workflow.store import grants as store_grants
from workflow.store.db import Connection, Store
from workflow.store.grants import LEGACY_ROLES, Roles, grant_statements, ident

# The roles, their quoting and the grants' DDL are the store's (workflow/store/grants.py).
__all__ = [
    "GRANTS_VERSION",
    "GROUP_OF_ROLE",
    "LEGACY_ROLES",
    "Move",
    "Prefix",
    "Report",
    "Roles",
    "apply_grants",
    "grant_statements",
    "grants_status",
    "ident",
    "make_prefix",
    "membership_plan",
    "missing_privileges",
    "read_prefix",
]

# Bump when the statements of workflow/store/grants.py change: ``db status`` then says the
# grants are outdated.
GRANTS_VERSION = "0.3.0"

GROUP_OF_ROLE = {
    "coordinator": "reader",
    "forum_lead": "reader",
    "ministry": "reader",
    "auditor": "auditor",
    "system": "service",
}


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
    database = store_grants.current_database(conn)
    stored, made_for = store_grants.stored_prefix(conn)
    if stored is not None and made_for == database:
        return Prefix(Roles(stored), stored, made_for, database)
    taken = store_grants.taken_prefixes(conn)
    prefix = make_prefix(database, taken, seed=store_grants.installation_seed(conn))
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
    rows = store_grants.members_of(conn, old)
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
        already = store_grants.is_member(conn, new, row["member"])
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


def missing_privileges(conn: Connection, roles: Roles) -> list[str]:
    """What the current login lacks to apply the grants (empty: it may)."""
    me = store_grants.current_login(conn)
    if me["superuser"]:
        return []
    missing = []
    if not me["owns_tables"]:
        missing.append(
            "ownership of the ruhrflow tables (run as the login that ran `ruhrflow init`)"
        )
    if not me["createrole"] and not all(store_grants.may_grant(conn, r) for r in roles.all()):
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
    if store.dialect != "postgresql":
        raise InvalidInput(
            "database roles exist only on PostgreSQL; a SQLite file is protected by its"
            " file permissions (chmod 600 and one office per file)"
        )
    with store.read() as conn:
        found = read_prefix(conn)
        roles = found.roles
        me = store_grants.current_login(conn)
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
    store_grants.apply_statements(
        store, report.statements, prefix=roles.prefix, database=found.database,
        version=GRANTS_VERSION, login=me["login"],
    )  # fmt: skip
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
    if not store_grants.has_roles_table(conn):
        problems.append("the schema is older than this ruhrflow: run `ruhrflow init`")
        return out
    database = store_grants.current_database(conn)
    row = store_grants.applied(conn)
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
    existing = store_grants.existing_roles(conn, roles.all())
    absent = [r for r in roles.all() if r not in existing]
    if absent:
        problems.append(f"missing roles {', '.join(absent)}: {apply}")
    writing = store_grants.roles_still_writing(conn, LEGACY_ROLES)
    if writing:
        problems.append(
            f"roles of an earlier release still write here ({', '.join(writing)}): {apply}"
        )
    out["matches"] = not problems
    return out
