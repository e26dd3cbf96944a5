"""The web's accounts, sessions, API tokens, failed-login counts and secrets: every statement
on ``web_accounts``, ``web_sessions``, ``web_tokens``, ``web_login_failures`` and
``web_secrets``.

Each function runs on the connection it is given, inside the caller's transaction; the
policy (who may log in, when a name is locked, what a session is worth) is
:mod:`workflow.access.accounts`'s. Secrets reach this module only as hashes, except the
installation's session secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import RowMapping, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from workflow.store.db import AnyRow, Connection
from workflow.store.direct import Direct
from workflow.store.schema import (
    web_accounts,
    web_login_failures,
    web_secrets,
    web_sessions,
    web_tokens,
)

# --- accounts ----------------------------------------------------------------------------------


def set_password_hash(conn: Connection, actor_id: str, digest: str, now: datetime) -> bool:
    """Give the account of ``actor_id`` the password hash ``digest``, enable it and move its
    session epoch on; False when there is no such account (nothing written)."""
    done = conn.execute(
        update(web_accounts)
        .where(web_accounts.c.actor_id == actor_id)
        .values(
            password_hash=digest,
            disabled=False,
            updated_at=now,
            session_epoch=web_accounts.c.session_epoch + 1,
        )
    ).rowcount
    return bool(done)


def add_account(
    conn: Connection,
    actor_id: str,
    digest: str,
    now: datetime,
    *,
    last_login_at: datetime | None = None,
) -> bool:
    """Add the enabled account of ``actor_id`` with the password hash ``digest`` (epoch 0);
    False when another transaction added it first (a savepoint keeps the caller's)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(web_accounts).values(
                    actor_id=actor_id,
                    password_hash=digest,
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                    last_login_at=last_login_at,
                )
            )
    except IntegrityError:
        return False
    return True


def disable_account(conn: Connection, actor_id: str, now: datetime) -> bool:
    """Disable the account of ``actor_id`` and move its session epoch on; False without one."""
    done = conn.execute(
        update(web_accounts)
        .where(web_accounts.c.actor_id == actor_id)
        .values(disabled=True, updated_at=now, session_epoch=web_accounts.c.session_epoch + 1)
    ).rowcount
    return bool(done)


def accounts(conn: Connection) -> list[RowMapping]:
    """Every account row, by actor id."""
    stmt = select(web_accounts).order_by(web_accounts.c.actor_id)
    return list(conn.execute(stmt).mappings())


def account_state(conn: Connection, actor_id: str, *, lock: bool = False) -> AnyRow | None:
    """``(disabled, session_epoch)`` of the account of ``actor_id``, None without one; with
    ``lock`` the row is locked for the rest of the transaction (PostgreSQL)."""
    stmt = select(web_accounts.c.disabled, web_accounts.c.session_epoch).where(
        web_accounts.c.actor_id == actor_id
    )
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def password_of(conn: Connection, actor_id: str) -> AnyRow | None:
    """``(password_hash, disabled, session_epoch)`` of the account of ``actor_id``."""
    stmt = select(
        web_accounts.c.password_hash, web_accounts.c.disabled, web_accounts.c.session_epoch
    ).where(web_accounts.c.actor_id == actor_id)
    return conn.execute(stmt).first()


def record_login(
    conn: Connection, actor_id: str, now: datetime, *, epoch: int | None = None
) -> bool:
    """Set the account's ``last_login_at``; with ``epoch``, only while the account is enabled
    and still in that epoch (False otherwise: the password changed meanwhile)."""
    stmt = update(web_accounts).where(web_accounts.c.actor_id == actor_id)
    if epoch is not None:
        stmt = stmt.where(web_accounts.c.session_epoch == epoch, web_accounts.c.disabled.is_(False))
    return bool(conn.execute(stmt.values(last_login_at=now)).rowcount)


# --- failed logins -----------------------------------------------------------------------------


def locked_until(conn: Connection, username: str, address: str) -> datetime | None:
    """Until when ``username`` is locked for ``address`` (None: never locked, or no count)."""
    stmt = select(web_login_failures.c.locked_until).where(
        web_login_failures.c.username == username, web_login_failures.c.address == address
    )
    return conn.execute(stmt).scalar_one_or_none()


def forget_failures(conn: Connection, username: str, address: str | None = None) -> None:
    """Forget the failed logins of ``username`` (from ``address`` only, when given)."""
    stmt = web_login_failures.delete().where(web_login_failures.c.username == username)
    if address is not None:
        stmt = stmt.where(web_login_failures.c.address == address)
    conn.execute(stmt)


def forget_failures_before(conn: Connection, before: datetime) -> None:
    """Forget every count last touched before ``before``."""
    conn.execute(web_login_failures.delete().where(web_login_failures.c.updated_at < before))


def failures(conn: Connection, username: str, address: str) -> int | None:
    """The failed logins in a row of ``username`` from ``address`` (None: no count), the row
    locked for the rest of the transaction (PostgreSQL)."""
    stmt = select(web_login_failures.c.failures).where(
        web_login_failures.c.username == username, web_login_failures.c.address == address
    )
    return conn.execute(stmt.with_for_update()).scalar_one_or_none()


def save_failures(
    conn: Connection,
    username: str,
    address: str,
    count: int,
    until: datetime | None,
    now: datetime,
    *,
    new: bool,
) -> None:
    """Store ``count`` failures of ``username`` from ``address``, locked ``until``; ``new``
    when :func:`failures` found no count (another process may add it first: then it is
    updated)."""
    values = {"failures": count, "locked_until": until, "updated_at": now}
    if new:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(web_login_failures).values(username=username, address=address, **values)
                )
            return
        except IntegrityError:  # another process counted the first failure at the same time
            pass
    conn.execute(
        update(web_login_failures)
        .where(web_login_failures.c.username == username, web_login_failures.c.address == address)
        .values(values)
    )


# --- sessions ----------------------------------------------------------------------------------


def add_session(
    conn: Connection, id_hash: str, actor_id: str, epoch: int, now: datetime, expires: datetime
) -> None:
    """Add a session (its id's hash) of ``actor_id`` begun in ``epoch``."""
    conn.execute(
        insert(web_sessions).values(
            id_hash=id_hash, actor_id=actor_id, epoch=epoch, created_at=now, expires_at=expires
        )
    )


def forget_sessions_before(conn: Connection, before: datetime) -> None:
    """Delete the sessions that expired before ``before``."""
    conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < before))


def end_session(conn: Connection, id_hash: str, now: datetime) -> None:
    """End the session with this id hash (if it has not ended)."""
    conn.execute(
        update(web_sessions)
        .where(web_sessions.c.id_hash == id_hash, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions_of(conn: Connection, actor_id: str, now: datetime) -> None:
    """End every open session of ``actor_id``."""
    conn.execute(
        update(web_sessions)
        .where(web_sessions.c.actor_id == actor_id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


# Every request's session lookup, built once: the row, not ended, not expired, of an enabled
# account whose epoch has not moved on since the login.
_LIVE_SESSION = (
    select(web_sessions.c.actor_id)
    .select_from(web_sessions.join(web_accounts))
    .where(
        web_sessions.c.id_hash == bindparam("id_hash"),
        web_sessions.c.ended_at.is_(None),
        web_sessions.c.expires_at > bindparam("now"),
        web_sessions.c.epoch == web_accounts.c.session_epoch,
        web_accounts.c.disabled.is_(False),
    )
)


_LIVE_SESSION_DIRECT = Direct(_LIVE_SESSION)


def live_session_actor(conn: Connection, id_hash: str, now: datetime) -> str | None:
    """The actor of the session with this id hash while it lives: not ended, not expired at
    ``now``, its account enabled and still in the session's epoch; else None."""
    found = _LIVE_SESSION_DIRECT.all(conn, {"id_hash": id_hash, "now": now})
    return str(found[0][0]) if found else None


def session_of(conn: Connection, id_hash: str) -> AnyRow | None:
    """The session with this id hash and its account: ``(actor_id, epoch, ended_at,
    expires_at, disabled, session_epoch)``, None without one."""
    stmt = (
        select(
            web_sessions.c.actor_id,
            web_sessions.c.epoch,
            web_sessions.c.ended_at,
            web_sessions.c.expires_at,
            web_accounts.c.disabled,
            web_accounts.c.session_epoch,
        )
        .select_from(web_sessions.join(web_accounts))
        .where(web_sessions.c.id_hash == id_hash)
    )
    return conn.execute(stmt).first()


# --- API tokens --------------------------------------------------------------------------------


def add_token(
    conn: Connection, actor_id: str, token_hash: str, now: datetime, expires: datetime | None
) -> int:
    """Add a token (its hash) of ``actor_id``; its id."""
    stmt = (
        insert(web_tokens)
        .values(actor_id=actor_id, token_hash=token_hash, created_at=now, expires_at=expires)
        .returning(web_tokens.c.id)
    )
    return int(conn.execute(stmt).scalar_one())


def revoke_token(conn: Connection, token_id: int, now: datetime) -> bool:
    """Revoke the token with this id; False when there is no such token or it was revoked."""
    done = conn.execute(
        update(web_tokens)
        .where(web_tokens.c.id == token_id, web_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    return bool(done)


def revoke_tokens_of(conn: Connection, actor_id: str, now: datetime) -> None:
    """Revoke every token of ``actor_id`` not yet revoked."""
    conn.execute(
        update(web_tokens)
        .where(web_tokens.c.actor_id == actor_id, web_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# The token lookup of every API request, built once (not per request): the database is still
# asked every time, so that a revoked token or a disabled account stops at once.
_TOKEN = (
    select(web_tokens.c.actor_id, web_tokens.c.expires_at, web_tokens.c.revoked_at)
    .select_from(web_tokens.join(web_accounts))
    .where(web_tokens.c.token_hash == bindparam("token_hash"), web_accounts.c.disabled.is_(False))
)


_TOKEN_DIRECT = Direct(_TOKEN)


class TokenRow(NamedTuple):
    """What :func:`token_of` finds."""

    actor_id: str
    expires_at: datetime | None
    revoked_at: datetime | None


def token_of(conn: Connection, token_hash: str) -> TokenRow | None:
    """``(actor_id, expires_at, revoked_at)`` of the token with this hash whose account is
    enabled; None otherwise. (Every API request asks: on SQLite on the driver's cursor,
    :class:`~workflow.store.direct.Direct`.)"""
    found = _TOKEN_DIRECT.all(conn, {"token_hash": token_hash})
    return TokenRow(*found[0]) if found else None


# --- secrets -----------------------------------------------------------------------------------


def secret(conn: Connection, name: str) -> str | None:
    """The installation's secret ``name`` (None before it was made)."""
    stmt = select(web_secrets.c.value).where(web_secrets.c.name == name)
    value = conn.execute(stmt).scalar_one_or_none()
    return None if value is None else str(value)


def add_secret(conn: Connection, name: str, value: str, now: datetime) -> bool:
    """Keep ``value`` as the secret ``name``; False when another process made it first."""
    try:
        with conn.begin_nested():
            conn.execute(insert(web_secrets).values(name=name, value=value, created_at=now))
    except IntegrityError:
        return False
    return True
