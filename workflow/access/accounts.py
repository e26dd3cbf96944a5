"""Local web accounts, sessions, API tokens, login throttling and the session secret — all in
the database.

Nothing lives in the app process: several processes on one PostgreSQL see the same accounts,
the same sessions, the same failed-login counts and the same session secret. Every function
takes ``now``.

Sessions are server-side: the signed cookie carries only a random session id, whose SHA-256
is a row of ``web_sessions``. Every request looks the row up, so a logout, a password change
or a disable ends the session at once in every process — a copied cookie stops too.

Throttling counts failed password logins per user name *and* client address: after
FREE_FAILURES in a row, that pair waits FIRST_LOCK, doubling up to MAX_LOCK. A stranger's
failures from elsewhere cannot lock the account's owner out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from workflow.access.directory import Directory
from workflow.errors import InvalidInput
from workflow.inputs import check_text
from workflow.store import accounts as rows
from workflow.store.db import Store

__all__ = [
    "FIRST_LOCK",
    "FORGET_FAILURES",
    "FREE_FAILURES",
    "MAX_LOCK",
    "MIN_PASSWORD_LENGTH",
    "NO_PASSWORD",
    "TOKEN_PREFIX",
    "Account",
    "AccountDisabled",
    "LoginThrottled",
    "actor_for_token",
    "authenticate",
    "begin_session",
    "create_token",
    "disable",
    "end_session",
    "is_active",
    "list_accounts",
    "login_with_password",
    "revoke_token",
    "same_secret",
    "session_actor",
    "session_epoch",
    "session_secret",
    "set_password",
    "sso_login",
    "why_session_ended",
]

MIN_PASSWORD_LENGTH = 12
# After this many failed logins in a row a user name is locked for the client address they
# came from, for a time that doubles with every further failure (up to MAX_LOCK).
FREE_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
TOKEN_PREFIX = "rf_"
# The password hash of an account made by an OIDC login: no argon2 hash, so no password
# ever matches it; ``ruhrflow user set-password`` gives the account a password.
NO_PASSWORD = "!"

_hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters
# Verified against when the user name is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash("ruhrflow-no-such-account")


class LoginThrottled(Exception):
    """Too many failed logins for this user name from this address; try after ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many failed logins; locked until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Account:
    """A web account as ``ruhrflow user list`` shows it."""

    actor: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    password: bool = True  # False: made by an SSO login, no password login possible

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "actor": self.actor,
            "role": self.role,
            "disabled": self.disabled,
            "password": self.password,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def set_password(
    store: Store, directory: Directory, actor_id: str, password: str, now: datetime
) -> None:
    """Create the account of ``actor_id`` or give it a new password (and enable it).

    A new password ends the account's open sessions in every process (the session epoch
    moves on, the sessions are ended); its API tokens stay valid — those revoked by a
    disable stay revoked.
    """
    set_shared_password(store, directory, (actor_id,), password, now)


def set_shared_password(
    store: Store, directory: Directory, actor_ids: Sequence[str], password: str, now: datetime
) -> None:
    """:func:`set_password` for several accounts that share one password (the demo's), in
    one transaction and with one argon2 hash (one salt) for all of them: argon2 is slow on
    purpose, and a shared password's accounts would reveal nothing more by equal hashes."""
    for actor_id in actor_ids:
        actor = directory.actor(actor_id)  # UnknownActor for a name the directory lacks
        if actor.role == "system":
            raise InvalidInput(f"{actor_id} is the system actor and cannot log in")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    digest = _hasher.hash(password)
    with store.write() as conn:
        for actor_id in actor_ids:
            if not rows.set_password_hash(conn, actor_id, digest, now) and not rows.add_account(
                conn, actor_id, digest, now
            ):  # added by another process meanwhile: give that one the password
                rows.set_password_hash(conn, actor_id, digest, now)
            rows.end_sessions_of(conn, actor_id, now)
            rows.forget_failures(conn, actor_id)


def disable(store: Store, actor_id: str, now: datetime) -> None:
    """Disable the account: its sessions end and its tokens are revoked, for good.

    Enabling the account again (a new password, e.g. for a successor at a functional
    account) brings back neither: the sessions are ended, the epoch has moved on and the
    tokens carry ``revoked_at``.
    """
    with store.write() as conn:
        done = rows.disable_account(conn, actor_id, now)
        if done:
            rows.end_sessions_of(conn, actor_id, now)
            rows.revoke_tokens_of(conn, actor_id, now)
    if not done:
        raise InvalidInput(f"{actor_id} has no web account")


def list_accounts(store: Store, directory: Directory) -> list[Account]:
    """Every web account, by actor id."""
    with store.read() as conn:
        found = rows.accounts(conn)
    return [
        Account(
            actor=r["actor_id"],
            role=directory.actors[r["actor_id"]].role if r["actor_id"] in directory.actors else "?",
            disabled=r["disabled"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            last_login_at=r["last_login_at"],
            password=r["password_hash"] != NO_PASSWORD,
        )
        for r in found
    ]


def is_active(store: Store, actor_id: str) -> bool:
    """Whether ``actor_id`` has an account that is not disabled."""
    return session_epoch(store, actor_id) is not None


def session_epoch(store: Store, actor_id: str) -> int | None:
    """The session epoch of ``actor_id``'s enabled account; None without one (or disabled).

    Checked on every request: a session begun in another epoch has ended.
    """
    with store.read() as conn:
        row = rows.account_state(conn, actor_id)
    return None if row is None or row.disabled is not False else int(row.session_epoch)


class AccountDisabled(Exception):
    """The account of an OIDC login is disabled."""


def sso_login(store: Store, directory: Directory, actor_id: str, now: datetime) -> int:
    """Record an OIDC login of ``actor_id``: its session epoch.

    The account table decides who is disabled, for OIDC as for passwords: a disabled account
    raises AccountDisabled. An actor without an account gets one, without a password
    (``NO_PASSWORD``): the IdP vouched for the person and the configuration mapped them to
    this actor, which is the administrator's decision to let them in.
    """
    actor = directory.actor(actor_id)
    if actor.role == "system":
        raise InvalidInput(f"{actor_id} is the system actor and cannot log in")
    with store.write() as conn:
        row = rows.account_state(conn, actor_id, lock=True)
        if row is None:
            if rows.add_account(conn, actor_id, NO_PASSWORD, now, last_login_at=now):
                return 0
            # the same person logged in twice at once: use that row
            row = rows.account_state(conn, actor_id, lock=True)
            assert row is not None
        if row.disabled is not False:
            raise AccountDisabled(actor_id)
        rows.record_login(conn, actor_id, now)
        return int(row.session_epoch)


def authenticate(
    store: Store, username: str, password: str, now: datetime, *, address: str = ""
) -> str | None:
    """The actor id when ``password`` is right for an enabled account, else None.

    Raises LoginThrottled while the user name is locked for ``address`` (the client's; a
    right password does not help then). Failures count per user name and address, whether
    an account exists or not.
    """
    found = login_with_password(store, username, password, now, address=address)
    return found[0] if found else None


def login_with_password(
    store: Store, username: str, password: str, now: datetime, *, address: str = ""
) -> tuple[str, int] | None:
    """(actor id, session epoch) when ``password`` is right for an enabled account, else None.

    As :func:`authenticate`; the epoch is the one the password was checked in: a password
    changed while it was checked makes the login fail.
    """
    username = username.strip()[:200]
    address = _address(address)
    try:
        check_text(username, "the user name")
    except InvalidInput:
        # No account has such a name (actor ids are plain), and PostgreSQL would refuse a NUL
        # in the throttle's query where SQLite counts it: a failed login, uncounted, on both.
        _verify(_DUMMY_HASH, password)  # as long as any failed login
        return None
    with store.read() as conn:
        lock = rows.locked_until(conn, username, address)
        row = rows.password_of(conn, username)
    if lock is not None and lock > now:
        raise LoginThrottled(lock)
    # An account without a password (made by OIDC) takes as long as a wrong password.
    usable = row is not None and row.password_hash != NO_PASSWORD and row.disabled is False
    ok = _verify(row.password_hash if row and usable else _DUMMY_HASH, password) and usable
    with store.write() as conn:
        if ok:
            assert row is not None
            ok = rows.record_login(conn, username, now, epoch=int(row.session_epoch))
        if ok:
            rows.forget_failures(conn, username, address)
        else:
            _count_failure(conn, username, address, now)
    return (username, int(row.session_epoch)) if ok and row is not None else None


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


def _address(address: str) -> str:
    """The client address as counted: printable, at most the column's 64 characters."""
    text = "".join(ch for ch in address if ch.isprintable())[:64]
    return text or "-"


# Counts untouched this long are forgotten (at the next failure of anyone): guessed names from
# many addresses cannot grow the table without end.
FORGET_FAILURES = timedelta(days=1)


def _count_failure(conn: Any, username: str, address: str, now: datetime) -> None:
    """One more failed login of ``username`` from ``address``: locked after FREE_FAILURES."""
    rows.forget_failures_before(conn, now - FORGET_FAILURES)
    failures = rows.failures(conn, username, address)
    count = (failures or 0) + 1
    until = None
    if count >= FREE_FAILURES:
        until = now + min(FIRST_LOCK * 2 ** min(count - FREE_FAILURES, 20), MAX_LOCK)
    rows.save_failures(conn, username, address, count, until, now, new=failures is None)


# --- sessions ----------------------------------------------------------------------------------


def begin_session(
    store: Store, actor_id: str, epoch: int, now: datetime, lifetime: timedelta
) -> str:
    """A new session of ``actor_id`` begun in ``epoch``: the id for the cookie (only its hash
    is kept). Sessions that ended or expired a day ago are cleared out on the way."""
    sid = secrets.token_urlsafe(32)
    with store.write() as conn:
        rows.forget_sessions_before(conn, now - timedelta(days=1))
        rows.add_session(conn, _token_hash(sid), actor_id, epoch, now, now + lifetime)
    return sid


def end_session(store: Store, sid: object, now: datetime) -> None:
    """End the session with this id (logout), in every process; nothing for no session."""
    if not isinstance(sid, str) or not sid:
        return
    with store.write() as conn:
        rows.end_session(conn, _token_hash(sid), now)


def session_actor(store: Store, sid: object, now: datetime) -> str | None:
    """The actor of a live session id, else None (ended, expired, account disabled or its
    password changed since, or no such session)."""
    if not isinstance(sid, str) or not sid or len(sid) > 200:
        return None
    with store.read() as conn:
        return rows.live_session_actor(conn, _token_hash(sid), now)


def why_session_ended(store: Store, sid: object, now: datetime) -> str:
    """For the log, when :func:`session_actor` refused ``sid``: whose session and why."""
    if not isinstance(sid, str) or not sid or len(sid) > 200:
        return "a cookie without a session (from before 0.3.0, or forged)"
    with store.read() as conn:
        row = rows.session_of(conn, _token_hash(sid))
    if row is None:
        return "an unknown session"
    if row.disabled is not False:
        return f"session of disabled account {row.actor_id}"
    if row.epoch != row.session_epoch:
        return f"session of {row.actor_id} ended by a password change"
    if row.ended_at is not None:
        return f"session of {row.actor_id} ended by a logout"
    return f"session of {row.actor_id} expired"


# --- API tokens ------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    store: Store, actor_id: str, now: datetime, *, expires_in: timedelta | None
) -> tuple[int, str]:
    """A new API token for the account of ``actor_id``: (id, token). Only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        exists = rows.account_state(conn, actor_id)
        if exists is None:
            raise InvalidInput(f"{actor_id} has no web account (ruhrflow user set-password)")
        if exists.disabled:  # a token made now would work again once a successor is set up
            raise InvalidInput(f"the web account {actor_id} is disabled: no token is issued")
        expires = now + expires_in if expires_in else None
        token_id = rows.add_token(conn, actor_id, _token_hash(token), now, expires)
    return int(token_id), token


def revoke_token(store: Store, token_id: int, now: datetime) -> None:
    """Revoke the token with this id (at once, in every process)."""
    with store.write() as conn:
        done = rows.revoke_token(conn, token_id, now)
    if not done:
        raise InvalidInput(f"no active token with id {token_id}")


def actor_for_token(store: Store, token: str, now: datetime) -> str | None:
    """The actor of a valid token (not revoked, not expired, account enabled), else None."""
    with store.read() as conn:
        row = rows.token_of(conn, _token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return str(row.actor_id)


# --- the session secret ------------------------------------------------------------------------


def session_secret(store: Store, env_value: str | None, now: datetime) -> str:
    """RUHRFLOW_WEB_SECRET if given, else the installation's random secret (created once)."""
    if env_value:
        return env_value
    with store.read() as conn:
        value = rows.secret(conn, "session")
    if value is not None:
        return value
    with store.write() as conn:
        rows.add_secret(conn, "session", secrets.token_hex(32), now)  # False: made by another
    with store.read() as conn:
        made = rows.secret(conn, "session")
    assert made is not None
    return made


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
