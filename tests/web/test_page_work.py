"""What a page request does besides the page (issue 29): no session cookie for a Bearer
request, the same cookie as before for a browser, and the list's page with its count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.access import accounts


def _bearer(runtime: Runtime, actor: str = "koordination") -> dict[str, str]:
    _, token = accounts.create_token(
        runtime.store, actor, datetime.now(UTC), expires_in=timedelta(days=1)
    )
    return {"Authorization": f"Bearer {token}"}


def test_a_bearer_request_for_a_page_gets_no_session_cookie(app: Flask, runtime: Runtime) -> None:
    response = app.test_client().get("/proposals", headers=_bearer(runtime))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # the page's CSRF token is not signed into one


def test_a_browser_keeps_its_session_cookie(app: Flask) -> None:
    browser = login(app, "koordination")
    response = browser.client.get("/proposals")
    assert response.status_code == 200
    assert "ruhrflow_session=" in response.headers.get("Set-Cookie", "")  # refreshed as before
    assert browser.client.get("/worklist").status_code == 200  # still logged in


def test_a_revoked_token_stops_at_once(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    token_id, token = accounts.create_token(
        runtime.store, "koordination", datetime.now(UTC), expires_in=None
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/worklist", headers=bearer).status_code == 200
    accounts.revoke_token(runtime.store, token_id, datetime.now(UTC))
    assert client.get("/worklist", headers=bearer).status_code == 401
    assert client.get("/proposals", headers=bearer).status_code == 401
