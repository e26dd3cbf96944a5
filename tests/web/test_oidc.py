"""Login through the state SSO (OIDC), against a real provider on loopback, on both backends.

The provider (tests/oidc_provider.py) runs in a thread; the app's Authlib client talks to it
over HTTP for discovery, the JWKS and the code exchange, and the test carries the browser's
redirects between the two. Nothing of the flow under test is replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import test_config_text as config_text
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import RSAKey
from oidc_provider import (
    ACTORS,
    CLIENT_ID,
    CLIENT_SECRET,
    KID,
    Provider,
    oidc_config,
    running_provider,
)
from sqlalchemy import select
from web_fixtures import PASSWORD, csrf_of

from workflow import Directory, Runtime, Settings, load_settings
from workflow.access import accounts
from workflow.errors import InvalidConfig
from workflow.store.schema import web_accounts
from workflow.web import create_app
from workflow.web.oidc import load_config, origin_of


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running_provider() as p:
        yield p


@pytest.fixture
def idp(provider: Provider) -> Provider:
    provider.reset()
    return provider


@pytest.fixture
def sso_app(
    runtime: Runtime, database_url: str, tmp_path: Path, idp: Provider, fast_hashes: None
) -> Flask:
    """The web app with ``[web.oidc]`` pointing at the loopback provider."""
    config = tmp_path / "sso.toml"
    config.write_text(config_text(tmp_path / "mail") + oidc_config(idp.issuer), "utf-8")
    settings = load_settings(
        config, database_url=database_url, env={"RUHRFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET}
    )
    app = create_app(settings, runtime=runtime)
    app.config["TESTING"] = True
    return app


def sso_login(app: Flask, *, state: str | None = None) -> tuple[FlaskClient, int, str]:
    """Click the SSO button, let the provider approve, come back: (client, status, page)."""
    client = app.test_client()
    start = client.get("/login/oidc")
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize = start.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    at_idp = requests.get(authorize, allow_redirects=False, timeout=10)
    assert at_idp.status_code == 302, at_idp.text
    back = urlsplit(at_idp.headers["Location"])
    assert back.path == "/login/oidc/callback"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    if state is not None:
        params["state"] = state
    response = client.get(back.path, query_string=params)
    return client, response.status_code, response.get_data(as_text=True)


def logged_in_as(client: FlaskClient) -> str | None:
    """The actor of the client's session, if the app lets it in."""
    if client.get("/proposals").status_code != 200:
        return None
    with client.session_transaction() as session:
        actor = session.get("actor")
    return actor if isinstance(actor, str) else None


def test_the_login_page_offers_the_sso_button_next_to_the_password_form(sso_app: Flask) -> None:
    html = sso_app.test_client().get("/login").get_data(as_text=True)
    assert "Mit Landes-SSO anmelden" in html and 'href="/login/oidc"' in html
    assert 'name="password"' in html


def test_without_oidc_there_is_no_button_and_no_route(app: Flask) -> None:
    client = app.test_client()
    assert "Landes-SSO" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/oidc").status_code == 404


def test_a_group_mapped_to_an_actor_logs_in_as_that_actor(
    sso_app: Flask, idp: Provider, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # given a person of the coordination group at the IdP, with no ruhrflow account yet
    idp.user = {"sub": "u-1", "preferred_username": "k.mueller",
                "groups": ["/ruhrkonferenz/koordination", "/land/alle"]}  # fmt: skip
    # when they log in through the SSO
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        client, status, _ = sso_login(sso_app)
    # then they are the coordinator, in a session like a password session
    assert status == 303
    assert logged_in_as(client) == "koordination"
    assert "login: koordination via OIDC (sub 'u-1')" in caplog.text
    # and the code was exchanged with the PKCE verifier and the client secret
    (exchange,) = idp.token_requests
    assert exchange["code_verifier"] and exchange["grant_type"] == "authorization_code"
    # and the account made for them has no password that the form would accept
    with runtime.store.read() as conn:
        digest = conn.execute(
            select(web_accounts.c.password_hash).where(web_accounts.c.actor_id == "koordination")
        ).scalar_one()
    assert digest == accounts.NO_PASSWORD
    assert accounts.authenticate(runtime.store, "koordination", digest, datetime.now(UTC)) is None


def test_two_claims_naming_the_same_actor_are_one_actor(sso_app: Flask, idp: Provider) -> None:
    idp.user = {"sub": "u-2", "preferred_username": "vm-chefin", "groups": ["/ruhrkonferenz/vm"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "vm"


def test_an_audience_list_with_this_client_and_its_azp_is_accepted(
    sso_app: Flask, idp: Provider
) -> None:
    # as Keycloak sends it when the token is for this client and its account service
    idp.user = {"sub": "u-11", "groups": ["/ruhrkonferenz/im"]}
    idp.tamper = {"aud": [CLIENT_ID, "account"], "azp": CLIENT_ID}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "im"


def test_the_login_goes_on_to_the_page_asked_for(sso_app: Flask, idp: Provider) -> None:
    idp.user = {"sub": "u-3", "groups": ["/ruhrkonferenz/im"]}
    client = sso_app.test_client()
    start = client.get("/login/oidc?next=/proposals%3Fstate%3Dproposed")
    at_idp = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(at_idp.headers["Location"])
    response = client.get(f"{back.path}?{back.query}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/proposals?state=proposed"


def _wrong_audience(p: Provider) -> None:
    p.tamper = {"aud": "another-client"}


def _wrong_audience_with_our_azp(p: Provider) -> None:
    p.tamper = {"aud": "another-client", "azp": CLIENT_ID}


def _bad_signature(p: Provider) -> None:
    p.sign_with = RSAKey.generate_key(2048, parameters={"kid": KID})


def _wrong_nonce(p: Provider) -> None:
    p.tamper = {"nonce": "not-the-nonce-we-sent"}


def _expired(p: Provider) -> None:
    now = int(time.time())
    p.tamper = {"iat": now - 3600, "exp": now - 600}  # beyond Authlib's 120 s leeway


def _wrong_issuer(p: Provider) -> None:
    p.tamper = {"iss": "https://sso.example.invalid"}


@pytest.mark.parametrize(
    "spoil",
    [
        _wrong_audience,
        _wrong_audience_with_our_azp,
        _bad_signature,
        _wrong_nonce,
        _expired,
        _wrong_issuer,
    ],
)
def test_an_id_token_that_fails_a_check_logs_nobody_in(
    sso_app: Flask, idp: Provider, spoil: object, caplog: pytest.LogCaptureFixture
) -> None:
    # given a mapped person, and an ID token spoiled in one way
    idp.user = {"sub": "u-4", "groups": ["/ruhrkonferenz/koordination"]}
    assert callable(spoil)
    spoil(idp)
    # when they come back from the IdP
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        client, status, page = sso_login(sso_app)
    # then the login fails, in German, logged, and nobody is logged in
    assert status == 401
    assert "Die Anmeldung über das Landes-SSO ist fehlgeschlagen" in page
    assert "OIDC login failed" in caplog.text and "login: koordination" not in caplog.text
    assert logged_in_as(client) is None


def test_groups_only_in_userinfo_are_asked_for_there(sso_app: Flask, idp: Provider) -> None:
    # given an issuer that keeps the groups out of the ID token (Keycloak's default mapper)
    idp.user = {"sub": "u-40"}
    idp.userinfo = {"sub": "u-40", "groups": ["/ruhrkonferenz/im"]}
    # when the person logs in
    client, status, _ = sso_login(sso_app)
    # then the groups come from the userinfo endpoint, asked once with the access token
    assert status == 303 and logged_in_as(client) == "im"
    assert idp.userinfo_requests == 1


def test_userinfo_is_not_asked_when_the_id_token_has_the_claims(
    sso_app: Flask, idp: Provider
) -> None:
    idp.user = {"sub": "u-41", "groups": ["/ruhrkonferenz/vm"]}
    idp.userinfo = {"sub": "u-41", "groups": ["/ruhrkonferenz/im"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "vm"
    assert idp.userinfo_requests == 0


@pytest.mark.parametrize(
    ("userinfo", "logged"),
    [
        ({"sub": "someone-else", "groups": ["/ruhrkonferenz/koordination"]}, "another subject"),
        (None, "HTTPError"),  # the endpoint fails
    ],
)
def test_a_userinfo_answer_for_another_subject_or_none_logs_nobody_in(
    sso_app: Flask,
    idp: Provider,
    userinfo: dict[str, object] | None,
    logged: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.user = {"sub": "u-42"}
    idp.userinfo = userinfo
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        client, status, page = sso_login(sso_app)
    assert status == 401 and "Die Anmeldung über das Landes-SSO ist fehlgeschlagen" in page
    assert "OIDC login failed" in caplog.text and logged in caplog.text
    assert logged_in_as(client) is None


def test_a_callback_with_another_state_is_refused(sso_app: Flask, idp: Provider) -> None:
    idp.user = {"sub": "u-5", "groups": ["/ruhrkonferenz/koordination"]}
    client, status, _ = sso_login(sso_app, state="forged-state")
    assert status == 401 and logged_in_as(client) is None


@pytest.mark.parametrize(
    ("user", "message", "logged"),
    [
        ({"sub": "u-6", "preferred_username": "x.y", "groups": ["/land/alle"]},
         "keinem Konto in ruhrflow zugeordnet", "maps to no actor"),
        ({"sub": "u-7", "groups": ["/ruhrkonferenz/im", "/ruhrkonferenz/vm"]},
         "mehreren Konten in ruhrflow zugeordnet", "maps to several actors: im, vm"),
    ],
)  # fmt: skip
def test_claims_that_map_to_no_actor_or_to_several_are_refused(
    sso_app: Flask,
    idp: Provider,
    runtime: Runtime,
    user: dict[str, object],
    message: str,
    logged: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    idp.user = user
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        client, status, page = sso_login(sso_app)
    assert status == 403 and message in page
    assert f"refused: OIDC login of sub {user['sub']!r}" in caplog.text and logged in caplog.text
    assert logged_in_as(client) is None
    with runtime.store.read() as conn:  # and no account was made for anyone
        assert conn.execute(select(web_accounts.c.actor_id)).first() is None


def test_a_disabled_account_does_not_get_in_through_the_sso(
    sso_app: Flask, idp: Provider, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # given the IM's account, disabled
    now = datetime.now(UTC)
    accounts.set_password(runtime.store, runtime.directory, "im", PASSWORD, now)
    accounts.disable(runtime.store, "im", now)
    # when a member of the IM group logs in through the SSO
    idp.user = {"sub": "u-8", "groups": ["/ruhrkonferenz/im"]}
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        client, status, page = sso_login(sso_app)
    # then they are refused and stay out
    assert status == 403 and "gesperrt" in page
    assert "refused: OIDC login of sub 'u-8' as disabled account im" in caplog.text
    assert logged_in_as(client) is None


def test_disabling_ends_an_sso_session(sso_app: Flask, idp: Provider, runtime: Runtime) -> None:
    idp.user = {"sub": "u-9", "groups": ["/ruhrkonferenz/vm"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "vm"
    accounts.disable(runtime.store, "vm", datetime.now(UTC))
    assert logged_in_as(client) is None


def test_an_sso_login_leaves_the_password_login_as_it_was(
    sso_app: Flask, idp: Provider, runtime: Runtime
) -> None:
    # given the coordinator has a password, and logs in through the SSO
    accounts.set_password(runtime.store, runtime.directory, "koordination", PASSWORD,
                          datetime.now(UTC))  # fmt: skip
    idp.user = {"sub": "u-10", "groups": ["/ruhrkonferenz/koordination"]}
    _, status, _ = sso_login(sso_app)
    assert status == 303
    # then the password still works in the form
    client = sso_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "koordination", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303 and logged_in_as(client) == "koordination"


# --- logout --------------------------------------------------------------------------------


def _log_out(client: FlaskClient) -> str:
    """Press "Abmelden" on a page: where the app sends the browser."""
    token = csrf_of(client.get("/proposals").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    return response.headers["Location"]


def test_logging_out_of_an_sso_session_ends_it_at_the_issuer_too(
    sso_app: Flask, idp: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    # given a coordinator logged in through the SSO
    idp.user = {"sub": "u-20", "groups": ["/ruhrkonferenz/koordination"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "koordination"
    # when they log out
    with caplog.at_level(logging.INFO, logger="workflow.web"):
        location = _log_out(client)
    # then the session here is gone, and the browser goes on to the issuer's end_session
    # endpoint (RP-Initiated Logout), which sends it back to the login page
    assert logged_in_as(client) is None
    target = urlsplit(location)
    assert f"{target.scheme}://{target.netloc}{target.path}" == idp.issuer + "/logout"
    assert parse_qs(target.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": ["http://localhost/login"],
    }
    back = requests.get(location, allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"] == "http://localhost/login"
    assert len(idp.logouts) == 1
    assert "logout: koordination (and at the SSO issuer)" in caplog.text


def test_a_password_session_logs_out_here_only(
    sso_app: Flask, idp: Provider, runtime: Runtime
) -> None:
    accounts.set_password(runtime.store, runtime.directory, "koordination", PASSWORD,
                          datetime.now(UTC))  # fmt: skip
    client = sso_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "koordination", "password": PASSWORD,
                                "csrf_token": token})  # fmt: skip
    assert logged_in_as(client) == "koordination"
    assert _log_out(client) == "/login"
    assert logged_in_as(client) is None and idp.logouts == []


def test_an_issuer_without_end_session_endpoint_is_left_alone(
    sso_app: Flask, idp: Provider
) -> None:
    idp.end_session = False
    idp.user = {"sub": "u-21", "groups": ["/ruhrkonferenz/vm"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303 and logged_in_as(client) == "vm"
    assert _log_out(client) == "/login"
    assert logged_in_as(client) is None and idp.logouts == []


def test_an_end_session_endpoint_on_another_origin_is_left_alone(
    sso_app: Flask, idp: Provider
) -> None:
    # the pages' CSP lets the logout form lead to the issuer's origin only
    idp.end_session_url = "http://127.0.0.2:9/logout"
    idp.user = {"sub": "u-22", "groups": ["/ruhrkonferenz/vm"]}
    client, status, _ = sso_login(sso_app)
    assert status == 303
    assert _log_out(client) == "/login" and logged_in_as(client) is None


def test_the_issuers_origin_is_compared_as_a_browser_does(sso_app: Flask, idp: Provider) -> None:
    # an endpoint spelled in capitals, with a query of its own, is on the issuer's origin
    idp.end_session_url = idp.issuer.upper() + "/logout?realm=land"
    idp.user = {"sub": "u-23", "groups": ["/ruhrkonferenz/vm"]}
    client, _, _ = sso_login(sso_app)
    target = urlsplit(_log_out(client))
    assert parse_qs(target.query)["realm"] == ["land"]
    assert parse_qs(target.query)["client_id"] == [CLIENT_ID]
    assert origin_of("HTTPS://SSO.nrw.example:443/realms/x") == "https://sso.nrw.example"
    assert origin_of("http://[::1]:8080/x") == "http://[::1]:8080"


def test_the_pages_let_a_form_lead_to_the_issuer_only_with_sso(
    sso_app: Flask, app: Flask, idp: Provider
) -> None:
    # a browser applies form-action to the logout form's redirect to the issuer as well
    with_sso = sso_app.test_client().get("/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {idp.issuer};" in with_sso
    without = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "form-action 'self';" in without


# --- the configuration ---------------------------------------------------------------------


def _settings(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    config = tmp_path / "c.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(
        config,
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        env={"RUHRFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET} if env is None else env,
    )


def test_a_client_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    text = oidc_config("https://sso.nrw.example/realms/land", extra='client_secret = "x"\n')
    with pytest.raises(InvalidConfig, match="RUHRFLOW_OIDC_CLIENT_SECRET") as refused:
        _settings(tmp_path, text)
    assert "\n" not in str(refused.value)


def test_the_mapping_is_checked_against_the_directory(tmp_path: Path, directory: Directory) -> None:
    actors = '[web.oidc.actors]\n"/ruhrkonferenz/im" = "im"\n"/gruppe/x" = "niemand"\n'
    settings = _settings(tmp_path, oidc_config("https://sso.nrw.example/r", actors=actors))
    with pytest.raises(InvalidConfig, match=r"web\.oidc\.actors\.'/gruppe/x' names 'niemand'"):
        load_config(settings, directory)


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (oidc_config("https://sso.nrw.example/r"), {}, "RUHRFLOW_OIDC_CLIENT_SECRET"),
        (oidc_config("http://sso.nrw.example/r"), None, "must be an https URL"),
        (oidc_config("https://sso.nrw.example/r", extra='scopes = "profile"\n'), None,
         "must include openid"),
        ('[web.oidc]\nclient_id = "x"\n' + ACTORS, None, "web.oidc.issuer must be set"),
        (oidc_config("https://sso.nrw.example;script-src *"), None, "must name a plain host"),
        (oidc_config("https://user@sso.nrw.example/r"), None, "must name a plain host"),
    ],
)  # fmt: skip
def test_an_incomplete_configuration_is_one_clear_line(
    tmp_path: Path, directory: Directory, text: str, env: dict[str, str] | None, message: str
) -> None:
    settings = _settings(tmp_path, text, env)
    with pytest.raises(InvalidConfig, match=message):
        load_config(settings, directory)


def test_the_shipped_configuration_has_no_oidc(directory: Directory, tmp_path: Path) -> None:
    settings = _settings(tmp_path, "", env={})
    assert load_config(settings, directory) is None
