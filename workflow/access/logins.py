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

from workflow.access.directory import Actor
from workflow.errors import InvalidInput, PermissionDenied
from workflow.store import logins as rows
from workflow.store.db import Store

_MAX_LOGIN = 63  # PostgreSQL's NAMEDATALEN - 1


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
        row = rows.current_rights(conn)
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
        if not rows.role_exists(conn, login):
            raise InvalidInput(
                f"no database login {login!r}: create it first (CREATE ROLE … LOGIN)"
            )
        rows.put_login(conn, login, values)
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
        removed = rows.delete_login(conn, login)
    if not removed:
        raise InvalidInput(f"no entry for login {login!r} (see `ruhrflow db logins list`)")


def list_logins(store: Store) -> list[LoginEntry]:
    """Every entry, by login. Administrator only."""
    _administrator(store, "list logins")
    with store.read() as conn:
        entries = rows.login_rows(conn)
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
        for row in entries
    ]
