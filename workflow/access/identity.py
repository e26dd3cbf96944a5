"""Who is acting: the authenticated database login on PostgreSQL, ``--as`` on SQLite.

On PostgreSQL every person (or functional account) logs in as their own database user;
``session_user`` — the login, which ``SET ROLE`` does not change — is mapped to a
directory actor by the table ``logins``, which only an administrator writes
(``ruhrflow db logins``, :mod:`workflow.access.logins`). ``--as`` (or ``RUHRFLOW_ACTOR``) naming
anybody else is refused unless the database grants the login impersonation (an
administrator, or ``--may-impersonate``); an allowed impersonation is logged. Nothing
the caller chooses — ``[security] allow_impersonation``, ``db_user`` in a directory file
— counts there. A SQLite file has no logins: it is one office's file, protected by file
permissions, and ``--as`` says who acts.
"""

from __future__ import annotations

import logging
from datetime import datetime

from workflow.access.directory import Actor, Directory
from workflow.access.logins import LoginRights
from workflow.errors import (
    ClockRefused,
    DirectoryMismatch,
    ImpersonationRefused,
    PermissionDenied,
    UnmappedDatabaseUser,
)
from workflow.store import logins as login_rows
from workflow.store.db import Store

log = logging.getLogger("ruhrflow.identity")


def session_user(store: Store) -> str | None:
    """The authenticated database login (PostgreSQL), or None where there is none (SQLite)."""
    if store.dialect != "postgresql":
        return None
    with store.read() as conn:
        return login_rows.session_user(conn)


def acting_actor(
    directory: Directory,
    requested: str | None,
    *,
    rights: LoginRights | None,
    required: bool,
) -> str | None:
    """The directory id of the actor for this session.

    ``requested`` is what ``--as`` / ``RUHRFLOW_ACTOR`` said; ``rights`` what the database
    says about the login (None on SQLite). Returns None only when nobody is named, nobody
    is mapped and ``required`` is false. Raises UnknownActor, ImpersonationRefused,
    DirectoryMismatch or UnmappedDatabaseUser.
    """
    if rights is None:  # SQLite: --as is the identity
        if requested is not None:
            directory.actor(requested)
        return requested
    login = rights.login
    mapped = rights.actor_id
    if mapped is not None:
        _same_scope(directory.actor(mapped), rights)
    if requested is None:
        if mapped is None:
            if required:
                raise UnmappedDatabaseUser(login, impersonation_allowed=rights.may_impersonate)
            return None
        return mapped
    directory.actor(requested)  # UnknownActor for a typo, before anything else
    if mapped == requested:
        return requested
    if not rights.may_impersonate:
        raise ImpersonationRefused(login, requested)
    log.warning("impersonation: database user %r acts as %r", login, requested)
    return requested


def _same_scope(actor: Actor, rights: LoginRights) -> None:
    """The directory in use must give the mapped actor the role and scope the administrator
    recorded, unless the login may act as anybody anyway (administrators)."""
    if rights.may_impersonate or rights.scope is None:
        return
    found = (actor.role, actor.ministry, actor.forum)
    if found != rights.scope:
        raise DirectoryMismatch(
            rights.login, actor.id, _scope_text(found), _scope_text(rights.scope)
        )


def _scope_text(scope: tuple[str, str | None, int | None]) -> str:
    role, ministry, forum = scope
    return role + (f" of {ministry}" if ministry else "") + (f" (forum {forum})" if forum else "")


def check_clock(rights: LoginRights | None, fixed_now: datetime | None) -> None:
    """Refuse ``--now`` on a command that writes unless the login may set the clock.

    SQLite (``rights`` None) keeps simulation open to everyone with the file.
    """
    if rights is not None and fixed_now is not None and not rights.may_set_clock:
        raise ClockRefused(rights.login)


def check_system(rights: LoginRights | None, action: str) -> None:
    """Refuse the scheduler's system actions to a login the administrator did not name."""
    check_writes(rights)
    if rights is not None and not rights.scheduler:
        raise PermissionDenied(
            rights.login,
            action,
            None,
            "the scheduler's system actions are for the logins an administrator names"
            " (ruhrflow db logins add LOGIN ACTOR --scheduler)",
        )


def check_writes(rights: LoginRights | None) -> None:
    """Refuse a command that writes to a login the database lets only read (PostgreSQL).

    People act through the service (the web application, ``ruhrflow --server URL``); only its
    logins, administrators and auditors (their own checkpoints) change data. The database
    refuses it anyway (``db grants``): this says so before anything is tried, in one line.
    """
    if rights is not None and not rights.writes:
        raise PermissionDenied(
            rights.login,
            "change data",
            None,
            "on PostgreSQL people act through the service (the web application, or"
            " `ruhrflow --server URL`); a person's database login only reads",
        )
