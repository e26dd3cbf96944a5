"""Who a PostgreSQL login is and what it may do: kept in the database by an administrator.

A caller chooses its configuration file (``--config``, ``RUHRFLOW_CONFIG``) and its
directory, so nothing that widens a login's rights may come from there. On PostgreSQL the
table ``logins`` maps a login (``session_user``, which ``SET ROLE`` does not change) to
a directory actor and says what else it may do:

- ``may_impersonate`` — act as another actor (``--as``);
- ``may_set_clock`` — set the engine's clock (``--now``) on commands that write;
- ``scheduler`` — run the scheduler's system actions (``scheduler tick``/``run``,
  ``notices send``).

An **administrator** — a superuser, the owner of the ruhrflow tables (who runs
``ruhrflow init``), or a member of this database's role ``<prefix>_admin``
(:mod:`workflow.access.grants`) — may all three and is the only one who may change the
table: ``db grants --apply`` grants writing it to ``<prefix>_admin`` alone (the owner can
anyway), ``ruhrflow db logins`` manages it. A member of ``<prefix>_service`` (the logins of
``ruhrflow serve`` and the scheduler) may act as others and run the system actions, not set
the clock. Every other login only reads (:attr:`LoginRights.writes`): people act through
the service.
SQLite has no logins: there the file's permissions protect it and these rights are not
consulted (:mod:`workflow.access.identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from workflow.access.directory import Actor
from workflow.errors import InvalidInput, PermissionDenied
from workflow.store.db import Store
from workflow.store.schema import logins

_MAX_LOGIN = 63  # PostgreSQL's NAMEDATALEN - 1


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


@dataclass(frozen=True)
class LoginRights:
    """What the database says about the current login (effective rights)."""

    login: str
    actor_id: str | None
    administrator: bool
    may_impersonate: bool
    may_set_clock: bool
    scheduler: bool
    # the mapped actor's role and scope as the administrator's directory gave them
    scope: tuple[str, str | None, int | None] | None = None
    # a member of the service role (``ruhrflow serve``, the scheduler): writes, acts for others
    service: bool = False
    # a member of the auditor role: adds its own checkpoints and verifications
    auditor: bool = False

    @property
    def writes(self) -> bool:
        """Whether the database lets this login change data at all (people only read)."""
        return self.administrator or self.service or self.auditor


@dataclass(frozen=True)
class LoginEntry:
    """One row of ``logins``."""

    login: str
    actor_id: str
    role: str
    ministry: str | None
    forum: int | None
    may_impersonate: bool
    may_set_clock: bool
    scheduler: bool
    granted_by: str
    granted_at: datetime

    def rights(self) -> list[str]:
        """The extra rights by their option names."""
        flags = [
            ("may-impersonate", self.may_impersonate),
            ("may-set-clock", self.may_set_clock),
            ("scheduler", self.scheduler),
        ]
        return [name for name, on in flags if on]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "login": self.login,
            "actor": self.actor_id,
            "role": self.role,
            "ministry": self.ministry,
            "forum": self.forum,
            "may_impersonate": self.may_impersonate,
            "may_set_clock": self.may_set_clock,
            "scheduler": self.scheduler,
            "granted_by": self.granted_by,
            "granted_at": self.granted_at.isoformat(),
        }


def login_rights(store: Store) -> LoginRights | None:
    """The current login's actor and rights (PostgreSQL), or None on SQLite."""
    if store.dialect != "postgresql":
        return None
    with store.read() as conn:
        row = conn.execute(_RIGHTS).mappings().one()
    admin, service = bool(row["administrator"]), bool(row["service"])
    return LoginRights(
        login=str(row["login"]),
        actor_id=row["actor_id"],
        administrator=admin,
        may_impersonate=admin or service or bool(row["may_impersonate"]),
        may_set_clock=admin or bool(row["may_set_clock"]),
        scheduler=admin or service or bool(row["scheduler"]),
        scope=(row["role"], row["ministry"], row["forum"]) if row["actor_id"] else None,
        service=service,
        auditor=bool(row["auditor"]),
    )


def _administrator(store: Store, action: str) -> LoginRights:
    rights = login_rights(store)
    if rights is None:
        raise InvalidInput(
            "logins exist only on PostgreSQL; on SQLite --as names the actor and the file's"
            " permissions protect it"
        )
    if not rights.administrator:
        raise PermissionDenied(
            rights.login,
            action,
            None,
            "only an administrator (superuser, owner of the tables, member of this"
            " database's <prefix>_admin role: see `ruhrflow db grants`) manages logins",
        )
    return rights


def add_login(
    store: Store,
    login: str,
    actor: Actor,
    *,
    may_impersonate: bool,
    may_set_clock: bool,
    scheduler: bool,
    now: datetime,
) -> LoginEntry:
    """Map ``login`` to ``actor`` with the given rights (replacing an earlier entry).

    The actor's role and scope are recorded as the administrator's directory gives them:
    a directory file that a login chooses later cannot give its actor more.
    Administrator only; the login must exist as a PostgreSQL role.
    """
    actor_id = actor.id
    rights = _administrator(store, "manage logins")
    if not login or len(login.encode()) > _MAX_LOGIN:
        raise InvalidInput(f"a login name has 1 to {_MAX_LOGIN} bytes: {login[:80]!r}")
    values: dict[str, Any] = {
        "actor_id": actor_id,
        "role": actor.role,
        "ministry": actor.ministry,
        "forum": actor.forum,
        "may_impersonate": may_impersonate,
        "may_set_clock": may_set_clock,
        "scheduler": scheduler,
        "granted_by": rights.login,
        "granted_at": now,
    }
    with store.write() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :login"), {"login": login}
        ).first()
        if exists is None:
            raise InvalidInput(
                f"no database login {login!r}: create it first (CREATE ROLE … LOGIN)"
            )
        changed = conn.execute(update(logins).where(logins.c.login == login).values(**values))
        if changed.rowcount == 0:
            conn.execute(insert(logins).values(login=login, **values))
    return LoginEntry(
        login=login,
        actor_id=actor_id,
        role=actor.role,
        ministry=actor.ministry,
        forum=actor.forum,
        may_impersonate=may_impersonate,
        may_set_clock=may_set_clock,
        scheduler=scheduler,
        granted_by=rights.login,
        granted_at=now,
    )


def remove_login(store: Store, login: str) -> None:
    """Remove the entry of ``login``: it is nobody afterwards. Administrator only."""
    _administrator(store, "manage logins")
    with store.write() as conn:
        removed = conn.execute(delete(logins).where(logins.c.login == login)).rowcount
    if removed == 0:
        raise InvalidInput(f"no entry for login {login!r} (see `ruhrflow db logins list`)")


def list_logins(store: Store) -> list[LoginEntry]:
    """Every entry, by login. Administrator only."""
    _administrator(store, "list logins")
    with store.read() as conn:
        rows = conn.execute(select(logins).order_by(logins.c.login)).mappings().all()
    return [
        LoginEntry(
            login=row["login"],
            actor_id=row["actor_id"],
            role=row["role"],
            ministry=row["ministry"],
            forum=row["forum"],
            may_impersonate=bool(row["may_impersonate"]),
            may_set_clock=bool(row["may_set_clock"]),
            scheduler=bool(row["scheduler"]),
            granted_by=row["granted_by"],
            granted_at=row["granted_at"],
        )
        for row in rows
    ]
