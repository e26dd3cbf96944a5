"""Who is acting: the authenticated database user on PostgreSQL, ``--as`` on SQLite.

On PostgreSQL every person (or functional account) logs in as their own database user;
``session_user`` — the login, which ``SET ROLE`` does not change — is mapped to a
directory actor: the actor that names it as ``db_user``, otherwise the actor whose id
equals the login name. ``--as`` (or ``RUHRFLOW_ACTOR``) naming anybody else is refused
unless ``[security] allow_impersonation = true`` (development and tests only); an
allowed impersonation is logged. A SQLite file has no logins: it is one office's file,
protected by file permissions, and ``--as`` says who acts.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from workflow.access.directory import Directory
from workflow.errors import ImpersonationRefused, UnmappedDatabaseUser
from workflow.store.db import Store

log = logging.getLogger("ruhrflow.identity")


def session_user(store: Store) -> str | None:
    """The authenticated database login (PostgreSQL), or None where there is none (SQLite)."""
    if store.dialect != "postgresql":
        return None
    with store.read() as conn:
        return str(conn.execute(text("SELECT session_user")).scalar_one())


def acting_actor(
    store: Store,
    directory: Directory,
    requested: str | None,
    *,
    allow_impersonation: bool,
    required: bool,
) -> str | None:
    """The directory id of the actor for this session.

    ``requested`` is what ``--as`` / ``RUHRFLOW_ACTOR`` said. Returns None only when
    nobody is named, nobody is mapped and ``required`` is false. Raises UnknownActor,
    ImpersonationRefused or UnmappedDatabaseUser.
    """
    login = session_user(store)
    if login is None:  # SQLite: --as is the identity
        if requested is not None:
            directory.actor(requested)
        return requested
    mapped = directory.actor_for_db_user(login)
    if requested is None:
        if mapped is None:
            if required:
                raise UnmappedDatabaseUser(login, impersonation_allowed=allow_impersonation)
            return None
        return mapped.id
    directory.actor(requested)  # UnknownActor for a typo, before anything else
    if mapped is not None and mapped.id == requested:
        return requested
    if not allow_impersonation:
        raise ImpersonationRefused(login, requested)
    log.warning("impersonation: database user %r acts as %r", login, requested)
    return requested
