"""Accounts, tokens, throttling and the session secret in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from workflow import InvalidInput, Runtime
from workflow.access import accounts
from workflow.store.schema import web_accounts, web_tokens

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PASSWORD = "ein-sehr-gutes-passwort"


@pytest.fixture(autouse=True)
def _fast(fast_hashes: None) -> None:
    pass


def test_passwords_are_stored_as_argon2id_and_verified(runtime: Runtime) -> None:
    accounts.set_password(runtime.store, runtime.directory, "koordination", PASSWORD, NOW)
    with runtime.store.read() as conn:
        digest = conn.execute(select(web_accounts.c.password_hash)).scalar_one()
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert accounts.authenticate(runtime.store, "koordination", PASSWORD, NOW) == "koordination"
    assert accounts.authenticate(runtime.store, "koordination", "falsch", NOW) is None
    assert accounts.authenticate(runtime.store, "niemand", PASSWORD, NOW) is None


def test_only_directory_actors_with_a_long_password_get_accounts(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput):
        accounts.set_password(runtime.store, runtime.directory, "im", "kurz", NOW)
    with pytest.raises(InvalidInput):
        accounts.set_password(runtime.store, runtime.directory, "ruhrflow", PASSWORD, NOW)
    with pytest.raises(InvalidInput):
        accounts.set_password(runtime.store, runtime.directory, "nobody", PASSWORD, NOW)


def test_a_shared_password_is_hashed_once_for_all_its_accounts(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def hash(self, password: str) -> str:
            hashed.append(password)
            return str(self.inner.hash(password))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(accounts, "_hasher", Counting(accounts._hasher))
    actors = ("koordination", "im", "pruefung")
    accounts.set_shared_password(runtime.store, runtime.directory, actors, PASSWORD, NOW)
    assert hashed == [PASSWORD]
    for actor in actors:
        assert accounts.authenticate(runtime.store, actor, PASSWORD, NOW) == actor
    # nothing is written when one of them may not have an account
    with pytest.raises(InvalidInput):
        accounts.set_shared_password(
            runtime.store, runtime.directory, ("mwide", "ruhrflow"), PASSWORD, NOW
        )
    assert accounts.authenticate(runtime.store, "mwide", PASSWORD, NOW) is None


def test_a_disabled_account_cannot_log_in(runtime: Runtime) -> None:
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, NOW)
    accounts.disable(runtime.store, "im", NOW)
    assert not accounts.is_active(runtime.store, "im")
    assert accounts.authenticate(runtime.store, "im", PASSWORD, NOW) is None


def test_failures_lock_a_user_name_for_a_growing_time(runtime: Runtime) -> None:
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, NOW)
    for _ in range(accounts.FREE_FAILURES):
        assert accounts.authenticate(runtime.store, "im", "x", NOW) is None
    with pytest.raises(accounts.LoginThrottled) as locked:
        accounts.authenticate(runtime.store, "im", PASSWORD, NOW)
    assert locked.value.until == NOW + accounts.FIRST_LOCK
    later = locked.value.until + timedelta(seconds=1)
    assert accounts.authenticate(runtime.store, "im", PASSWORD, later) == "im"
    # unknown user names are counted too (no hint which names exist)
    for _ in range(accounts.FREE_FAILURES):
        accounts.authenticate(runtime.store, "niemand", "x", NOW)
    with pytest.raises(accounts.LoginThrottled):
        accounts.authenticate(runtime.store, "niemand", "x", NOW)


def test_tokens_are_stored_hashed_and_expire(runtime: Runtime) -> None:
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, NOW)
    token_id, token = accounts.create_token(runtime.store, "im", NOW, expires_in=timedelta(days=90))
    with runtime.store.read() as conn:
        stored = conn.execute(select(web_tokens.c.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64
    assert accounts.actor_for_token(runtime.store, token, NOW) == "im"
    assert accounts.actor_for_token(runtime.store, token, NOW + timedelta(days=91)) is None
    accounts.revoke_token(runtime.store, token_id, NOW)
    assert accounts.actor_for_token(runtime.store, token, NOW) is None
    with pytest.raises(InvalidInput):
        accounts.create_token(runtime.store, "vm", NOW, expires_in=None)  # no account


def test_the_session_secret_is_created_once_per_installation(runtime: Runtime) -> None:
    first = accounts.session_secret(runtime.store, None, NOW)
    assert len(first) == 64
    assert accounts.session_secret(runtime.store, None, NOW) == first
    assert accounts.session_secret(runtime.store, "from-env", NOW) == "from-env"


def test_a_new_password_and_a_disable_move_the_session_epoch_on(runtime: Runtime) -> None:
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, NOW)
    first = accounts.session_epoch(runtime.store, "im")
    assert first is not None
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD + "!", NOW)
    second = accounts.session_epoch(runtime.store, "im")
    assert second is not None and second > first
    accounts.disable(runtime.store, "im", NOW)
    assert accounts.session_epoch(runtime.store, "im") is None
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, NOW)
    third = accounts.session_epoch(runtime.store, "im")
    assert third is not None and third > second + 1
    assert accounts.session_epoch(runtime.store, "niemand") is None


def test_an_sso_login_makes_an_account_without_a_password(runtime: Runtime) -> None:
    # given an actor without an account, logged in through the SSO
    assert accounts.sso_login(runtime.store, runtime.directory, "im", NOW) == 0
    # then the account exists, enabled, and no password opens it
    assert accounts.is_active(runtime.store, "im")
    assert accounts.authenticate(runtime.store, "im", accounts.NO_PASSWORD, NOW) is None
    # and once disabled the SSO no longer gets in either
    accounts.disable(runtime.store, "im", NOW)
    with pytest.raises(accounts.AccountDisabled):
        accounts.sso_login(runtime.store, runtime.directory, "im", NOW)
    with pytest.raises(InvalidInput):
        accounts.sso_login(runtime.store, runtime.directory, "ruhrflow", NOW)
