"""The JSON API: the CLI's JSON, the same permissions, one-line errors with telling statuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from support import Cli
from web_fixtures import login

from workflow import Runtime
from workflow.access import accounts
from workflow.app.machine import machine_row, zulu
from workflow.app.reads import history_rows, list_rows, trigger_rows


def bearer(runtime: Runtime, actor: str, *, expires_in: timedelta | None = None) -> dict[str, str]:
    _, token = accounts.create_token(runtime.store, actor, datetime.now(UTC), expires_in=expires_in)
    return {"Authorization": f"Bearer {token}"}


def test_without_login_every_endpoint_is_401(app: Flask) -> None:
    client = app.test_client()
    for path in ("/api/proposals", "/api/proposals/RK-03-01", "/api/proposals/RK-03-01/history"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json() == {
            "error": "not logged in",
            "message": "Bitte melden Sie sich an.",
        }


def test_the_list_and_show_are_the_clis_json(
    app: Flask, runtime: Runtime, database_url: str
) -> None:
    # the API answers what `ruhrflow … --format json` prints, byte for byte once parsed:
    # the same fields, times RFC 3339 with Z, amounts as decimal strings
    cli = Cli(database_url)
    h = bearer(runtime, "pruefung")
    client = app.test_client()
    listed = client.get("/api/proposals", headers=h).get_json()
    assert listed == cli.json("proposal", "list", actor=None)
    assert listed[0]["cost_estimate"].endswith(".00") and listed[0]["updated_at"].endswith("Z")
    vm = client.get("/api/proposals?lead=VM&q=bahn", headers=h).get_json()
    assert [r["key"] for r in vm] == ["RK-03-04"]
    got = client.get("/api/proposals/RK-03-01", headers=h).get_json()
    assert got == cli.json("proposal", "show", "RK-03-01", actor=None)
    history = client.get("/api/proposals/RK-03-01/history", headers=h).get_json()
    assert history == cli.json("history", "RK-03-01", actor=None)
    assert history[0]["at"].endswith("Z")


def test_triggers_are_the_callers(app: Flask, runtime: Runtime) -> None:
    h = bearer(runtime, "koordination")
    got = app.test_client().get("/api/proposals/RK-03-03/triggers", headers=h).get_json()
    expected = zulu(
        trigger_rows(
            runtime.engine.triggers("RK-03-03", actor="koordination", now=datetime.now(UTC))
        )
    )
    assert got == expected


def test_advance_with_a_token_needs_no_csrf(app: Flask, runtime: Runtime) -> None:
    h = bearer(runtime, "koordination")
    response = app.test_client().post(
        "/api/proposals/RK-03-01/advance",
        headers=h,
        json={"trigger": "approve", "fields": {"decision_date": "2019-11-05"},
              "comment": "Kabinett", "expected_version": 5},
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "approved"
    assert history_rows(runtime, "RK-03-01")[-1]["actor"] == "koordination"


def test_advance_errors_have_statuses_and_one_line(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    im = bearer(runtime, "im")
    coord = bearer(runtime, "koordination")
    cases = [
        (im, "RK-03-04", {"trigger": "report_progress", "fields": {"progress": 10}}, 403),
        (coord, "RK-99-99", {"trigger": "approve"}, 404),
        (coord, "RK-03-01", {"trigger": "start"}, 409),
        (coord, "RK-03-01", {"trigger": "approve", "fields": {"decision_date": "2019-11-05"},
                             "expected_version": 1}, 409),
        (coord, "RK-03-01", {"trigger": "approve", "fields": {"decision_date": "gestern"}}, 422),
        (coord, "RK-03-01", {"comment": "no trigger"}, 400),
    ]  # fmt: skip
    for headers, key, body, status in cases:
        before = len(history_rows(runtime, key)) if key != "RK-99-99" else 0
        response = client.post(f"/api/proposals/{key}/advance", headers=headers, json=body)
        assert response.status_code == status, (body, response.get_json())
        error = response.get_json()["error"]
        assert error and "\n" not in error
        if key != "RK-99-99":
            assert len(history_rows(runtime, key)) == before
    bad_json = client.post(
        "/api/proposals/RK-03-01/advance", headers=coord, data="{", content_type="application/json"
    )
    assert bad_json.status_code == 400


def test_a_cookie_session_needs_the_csrf_header(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    body = {"trigger": "approve", "fields": {"decision_date": "2019-11-05"}}
    refused = b.client.post("/api/proposals/RK-03-01/advance", json=body)
    assert refused.status_code == 400
    assert refused.get_json() == {
        "error": "CSRF token missing or invalid",
        "message": "Das Formular ist abgelaufen oder ungültig. Bitte laden Sie die Seite neu.",
    }
    ok = b.client.post(
        "/api/proposals/RK-03-01/advance", json=body, headers={"X-CSRFToken": b.csrf}
    )
    assert ok.status_code == 200


def test_revoked_expired_and_disabled_tokens_stop_working(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    token_id, token = accounts.create_token(runtime.store, "im", datetime.now(UTC), expires_in=None)
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/proposals", headers=h).status_code == 200
    accounts.revoke_token(runtime.store, token_id, datetime.now(UTC))
    assert client.get("/api/proposals", headers=h).status_code == 401
    expired = bearer(runtime, "im", expires_in=timedelta(seconds=-1))
    assert client.get("/api/proposals", headers=expired).status_code == 401
    vm = bearer(runtime, "vm")
    assert client.get("/api/proposals", headers=vm).status_code == 200
    accounts.disable(runtime.store, "vm", datetime.now(UTC))
    assert client.get("/api/proposals", headers=vm).status_code == 401
    assert client.get("/api/proposals", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_openapi_describes_the_endpoints(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {
        "/api/proposals",
        "/api/proposals/{key}",
        "/api/proposals/{key}/triggers",
        "/api/proposals/{key}/history",
        "/api/proposals/{key}/advance",
    }


def _follow(client: Any, path: str, headers: dict[str, str]) -> tuple[list[Any], list[str]]:
    """Every row of a paged list, following the Link headers; and the links followed."""
    rows: list[Any] = []
    links = []
    while True:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_json()
        rows += response.get_json()
        link = response.headers.get("Link")
        if link is None:
            return rows, links
        found = re.fullmatch(r'<(http://localhost)?([^>]+)>; rel="next"', link)
        assert found, link
        path = found.group(2)
        links.append(path)


def test_the_list_comes_in_pages_linked_by_a_next_header(app: Flask, runtime: Runtime) -> None:
    # given a token and the whole list as the CLI prints it
    h = bearer(runtime, "pruefung")
    everything = [machine_row(r) for r in list_rows(runtime)]
    assert len(everything) > 3
    client = app.test_client()
    # when the list is read three rows at a time, following the next links
    rows, links = _follow(client, "/api/proposals?limit=3", h)
    # then the pages together are the whole list, in order, each link one page further
    assert rows == everything
    assert links[0] == "/api/proposals?limit=3&offset=3"
    assert len(links) == -(-len(everything) // 3) - 1
    # and the filters and the order travel with the link
    in_state, links = _follow(client, "/api/proposals?state=proposed&sort=title&limit=1", h)
    proposed = sorted((r for r in everything if r["state"] == "proposed"), key=lambda r: r["title"])
    assert in_state == proposed and len(links) == len(proposed) - 1
    assert all("state=proposed" in link and "sort=title" in link for link in links)


def test_the_default_page_is_100_rows_and_at_most_1000(
    app: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow.web.api import proposals as api

    h = bearer(runtime, "pruefung")
    client = app.test_client()
    everything = [machine_row(r) for r in list_rows(runtime)]
    # a page as large as the whole list has no next link
    response = client.get("/api/proposals", headers=h)
    assert response.get_json() == everything and "Link" not in response.headers
    # a smaller default and maximum (the real ones are 100 and 1000) apply
    monkeypatch.setattr(api, "DEFAULT_LIMIT", 2)
    monkeypatch.setattr(api, "MAX_LIMIT", 3)
    response = client.get("/api/proposals", headers=h)
    assert response.get_json() == everything[:2]
    assert "limit=2&offset=2" in response.headers["Link"]
    response = client.get("/api/proposals?limit=50&offset=1", headers=h)
    assert response.get_json() == everything[1:4]
    assert "limit=3&offset=4" in response.headers["Link"]
    # past the end: an empty page
    assert client.get("/api/proposals?offset=1000", headers=h).get_json() == []


def test_a_bad_limit_or_offset_is_a_400_with_one_line(app: Flask, runtime: Runtime) -> None:
    h = bearer(runtime, "pruefung")
    client = app.test_client()
    for query in ("limit=0", "limit=abc", "limit=-5", "offset=-1", "offset=x", "limit=1.5"):
        response = client.get(f"/api/proposals?{query}", headers=h)
        assert response.status_code == 400, query
        assert (
            set(response.get_json()) == {"error", "message"}
            and "\n" not in response.get_json()["error"]
        )


def test_openapi_describes_the_paging(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    listing = spec["paths"]["/api/proposals"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"]["schema"]["default"] == 100
    assert params["limit"]["schema"]["maximum"] == 1000
    assert params["offset"]["schema"]["minimum"] == 0
    assert "Link" in listing["responses"]["200"]["headers"]
    assert "400" in listing["responses"]
