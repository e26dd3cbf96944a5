"""Sessions that end, tokens that stay revoked, throttling that cannot lock the owner out.

The review copied a session cookie before ``/logout`` and kept reading and writing with it
for the whole ``session_hours``; a disabled account given a new password revived every token
issued before; five wrong passwords from anyone kept any named account locked, and
``HEAD /login`` counted as a failure. Each probe is replayed here, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from web_fixtures import PASSWORD, csrf_of, login

from workflow import Runtime, Settings
from workflow.access import accounts
from workflow.cli.main import cli
from workflow.errors import InvalidInput

COOKIE = "ruhrflow_session"
STRANGER = {"REMOTE_ADDR": "192.0.2.66"}  # documentation addresses, never contacted
OWNER = {"REMOTE_ADDR": "192.0.2.10"}


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def reads(client: FlaskClient) -> bool:
    return client.get("/proposals").status_code == 200


def writes_checkpoint(client: FlaskClient, csrf: str) -> int:
    return client.post("/audit/checkpoint", data={"csrf_token": csrf}).status_code


def test_logout_ends_the_session_for_a_copied_cookie_too(app: Flask) -> None:
    # given a coordinator logged in and a copy of the cookie taken before the logout
    browser = login(app, "koordination")
    thief = copy_of(app, browser.client)
    assert reads(thief)
    # when the coordinator logs out
    assert browser.post("/logout", {}).status_code == 303
    # then neither the browser nor the copy reads or writes any more
    assert not reads(browser.client)
    assert not reads(thief)
    assert writes_checkpoint(thief, browser.csrf) in (302, 303, 400, 401, 403)


def test_a_logout_ends_only_that_session(app: Flask) -> None:
    first, second = login(app, "im"), login(app, "im")
    first.post("/logout", {})
    assert not reads(first.client) and reads(second.client)


def test_a_password_change_ends_copied_sessions(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    browser = login(app, "im")
    thief = copy_of(app, browser.client)
    _, token = accounts.create_token(runtime.store, "im", datetime.now(UTC), expires_in=None)
    result = CliRunner().invoke(
        cli,
        ["--db", settings.database_url, "user", "set-password", "im", "--password-stdin"],
        input="ein-ganz-neues-passwort\n",
    )
    assert result.exit_code == 0, result.output
    assert not reads(thief) and not reads(browser.client)
    # a new password alone leaves the API tokens (documented: revoke them one by one)
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/proposals", headers=bearer).status_code == 200


def test_a_disable_ends_sessions_and_revokes_tokens_for_good(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    # given the IM logged in, a copied cookie and an API token
    browser = login(app, "im")
    thief = copy_of(app, browser.client)
    _, token = accounts.create_token(runtime.store, "im", datetime.now(UTC), expires_in=None)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/proposals", headers=bearer).status_code == 200
    # when the account is disabled and then handed to a successor with a new password
    db = ["--db", settings.database_url]
    assert CliRunner().invoke(cli, [*db, "user", "disable", "im"]).exit_code == 0
    assert api.get("/api/proposals", headers=bearer).status_code == 401
    result = CliRunner().invoke(
        cli, [*db, "user", "set-password", "im", "--password-stdin"], input="nachfolger-passwort\n"
    )
    assert result.exit_code == 0, result.output
    # then the old token, the old session and its copy stay dead
    assert api.get("/api/proposals", headers=bearer).status_code == 401
    assert not reads(thief) and not reads(browser.client)
    # and the successor logs in with the new password
    assert reads(login(app, "im", "nachfolger-passwort").client)


def test_a_forged_or_pre_030_cookie_is_no_session(app: Flask) -> None:
    client = app.test_client()
    with client.session_transaction() as session:
        session["actor"] = "koordination"  # what a 0.2.0 cookie carried, and nothing else
        session["epoch"] = 0
    assert not reads(client)
    with client.session_transaction() as session:
        session["sid"] = "x" * 43
    assert not reads(client)


def _fail(client: FlaskClient, who: str, env: dict[str, str]) -> int:
    token = csrf_of(client.get("/login", environ_base=env).get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": who, "password": "falsch-falsch-falsch", "csrf_token": token},
        environ_base=env,
    )
    return response.status_code


def _log_in(client: FlaskClient, who: str, env: dict[str, str]) -> int:
    token = csrf_of(client.get("/login", environ_base=env).get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": who, "password": PASSWORD, "csrf_token": token},
        environ_base=env,
    )
    return response.status_code


def test_a_strangers_failures_do_not_lock_the_owner_out(app: Flask) -> None:
    # given a stranger who tried wrong passwords for koordination until locked
    stranger = app.test_client()
    codes = [_fail(stranger, "koordination", STRANGER) for _ in range(accounts.FREE_FAILURES + 1)]
    assert codes[-1] == 429
    # then the stranger is locked, even with the right password
    assert _log_in(stranger, "koordination", STRANGER) == 429
    # and the owner, from their own address, logs in
    assert _log_in(app.test_client(), "koordination", OWNER) == 303


def test_failures_from_one_address_lock_that_address(app: Flask) -> None:
    client = app.test_client()
    for _ in range(accounts.FREE_FAILURES):
        _fail(client, "im", OWNER)
    assert _log_in(client, "im", OWNER) == 429


def test_only_a_post_counts_as_a_login_attempt(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3 * accounts.FREE_FAILURES):
        assert client.head("/login", environ_base=STRANGER).status_code == 200
        assert client.get("/login?username=vm", environ_base=STRANGER).status_code == 200
    assert _log_in(client, "vm", STRANGER) == 303


def test_a_logout_in_one_app_process_ends_the_session_in_another(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    from workflow.web import create_app

    # given a second app process on the same database, and a cookie that works in both
    second = create_app(settings, runtime=runtime)
    second.config["TESTING"] = True
    browser = login(app, "koordination")
    elsewhere = copy_of(second, browser.client)
    assert reads(elsewhere)
    # when the coordinator logs out in the first
    browser.post("/logout", {})
    # then the second refuses the cookie too
    assert not reads(elsewhere)


def test_a_successor_gets_new_tokens_after_a_disable(
    app: Flask, runtime: Runtime, settings: Settings
) -> None:
    now = datetime.now(UTC)
    _, old = accounts.create_token(runtime.store, "im", now, expires_in=None)
    accounts.disable(runtime.store, "im", now)
    accounts.set_password(runtime.store, runtime.directory, "im", "nachfolger-passwort", now)
    _, new = accounts.create_token(runtime.store, "im", now, expires_in=None)
    assert accounts.actor_for_token(runtime.store, old, now) is None
    assert accounts.actor_for_token(runtime.store, new, now) == "im"


def test_no_token_is_issued_to_a_disabled_account(runtime: Runtime) -> None:
    # a token made while disabled would work again once a successor gets the account
    now = datetime.now(UTC)
    accounts.set_password(runtime.store, runtime.directory, "im", "erst-passwort-lang", now)
    accounts.disable(runtime.store, "im", now)
    with pytest.raises(InvalidInput, match="disabled: no token is issued"):
        accounts.create_token(runtime.store, "im", now, expires_in=None)


def test_the_token_endpoint_counts_failures_per_address_too(app: Flask) -> None:
    # given a stranger who asked for tokens of vm with wrong passwords until refused
    client = app.test_client()
    wrong = {"account": "vm", "password": "falsch-falsch-falsch"}
    codes = [
        client.post("/api/tokens", json=wrong, environ_base=STRANGER).status_code
        for _ in range(accounts.FREE_FAILURES + 1)
    ]
    assert codes[-1] == 429
    # then the owner, from their own address, still gets a token
    right = {"account": "vm", "password": PASSWORD}
    assert client.post("/api/tokens", json=right, environ_base=OWNER).status_code == 201
    assert client.post("/api/tokens", json=right, environ_base=STRANGER).status_code == 429


def test_failure_counts_are_forgotten_after_a_day(runtime: Runtime, fast_hashes: None) -> None:
    from sqlalchemy import func, select

    from workflow.store.schema import web_login_failures

    def rows() -> int:
        with runtime.store.read() as conn:
            count = conn.execute(select(func.count()).select_from(web_login_failures))
            return int(count.scalar_one())

    # given failures for many guessed names yesterday
    yesterday = datetime(2019, 7, 14, 8, 0, tzinfo=UTC)
    for name in ("a", "b", "c"):
        accounts.authenticate(runtime.store, name, "falsch", yesterday, address="192.0.2.1")
    assert rows() == 3
    # when someone fails today, then only today's count is kept
    today = yesterday + accounts.FORGET_FAILURES + accounts.FIRST_LOCK
    accounts.authenticate(runtime.store, "d", "falsch", today, address="192.0.2.1")
    assert rows() == 1
