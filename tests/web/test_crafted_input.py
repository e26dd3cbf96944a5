"""The review's crafted web and API input, kept: each is a 4xx with the one error shape.

JSON nested 1,000 levels was a 500; CR/LF in the login's ``next`` a 500 after a correct
password; ``"reason": null`` was stored as "None"; ``?themenforum=null`` and
``?handlungsfeld=abc`` were ignored (every proposal, as if filtered); an advance without
credentials answered 400 (CSRF) instead of 401; the ``Link`` header echoed the request's
Host; ``/public/`` served dotfiles and followed symbolic links out of ``public_dir``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from web_fixtures import PASSWORD, csrf_of, login

from workflow import Runtime, Settings, load_settings
from workflow.access import accounts
from workflow.web import create_app
from workflow.web.limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, json_depth

ADVANCE = "/api/proposals/RK-05-02/advance"
NOW = datetime.now(UTC)


def _error(response: object) -> str:
    assert response.status_code in (400, 401), (response.status_code, response.get_data())  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert (
        isinstance(body, dict) and set(body) == {"error", "message"} and "\n" not in body["error"]
    )
    return str(body["error"])


def test_json_nested_a_thousand_levels_is_400(app: Flask) -> None:
    b = login(app, "koordination")
    deep = "[" * 1000 + "]" * 1000
    response = b.client.post(
        ADVANCE, data=deep, content_type="application/json", headers={"X-CSRFToken": b.csrf}
    )
    assert response.status_code == 400
    assert "nested deeper" in _error(response)


def test_a_json_body_past_the_size_limit_is_400(app: Flask) -> None:
    b = login(app, "koordination")
    big = '{"trigger": "withdraw", "comment": "' + "x" * MAX_JSON_BYTES + '"}'
    response = b.client.post(
        ADVANCE, data=big, content_type="application/json", headers={"X-CSRFToken": b.csrf}
    )
    assert response.status_code == 400 and "larger than" in _error(response)


def test_brackets_inside_strings_are_no_nesting() -> None:
    assert json_depth(b'{"a": "[[[[[[\\"[[[["}') == 1
    assert json_depth(b"[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1


@pytest.mark.parametrize("reason", [None, 42, ["Grund"], {"x": 1}, True, "\u200b"])
def test_a_text_field_takes_only_text(app: Flask, runtime: Runtime, reason: object) -> None:
    b = login(app, "koordination")
    response = b.client.post(
        ADVANCE,
        json={"trigger": "withdraw", "fields": {"reason": reason}},
        headers={"X-CSRFToken": b.csrf},
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert "reason" in _error(response) if response.status_code == 400 else True
    assert b.client.get("/api/proposals/RK-05-02").get_json()["state"] == "proposed"


def test_an_advance_without_credentials_is_401(app: Flask) -> None:
    response = app.test_client().post(ADVANCE, json={"trigger": "withdraw"})
    assert response.status_code == 401 and _error(response) == "not logged in"


@pytest.mark.parametrize(
    "query",
    ["themenforum=null", "handlungsfeld=abc", "handlungsfeld=9", "definition_version=-1",
     "state=nirgends", "lead=XX", "sort=evil", "order=sideways", "themenforum=%C2%B3"],
)  # fmt: skip
def test_a_malformed_or_unknown_filter_is_400(app: Flask, query: str) -> None:
    b = login(app, "koordination")
    name = query.split("=")[0]
    assert name in _error(b.client.get(f"/api/proposals?{query}"))
    assert b.client.get(f"/proposals?{query}").status_code == 400


def test_empty_and_well_formed_filters_still_list(app: Flask) -> None:
    b = login(app, "koordination")
    for query in ("themenforum=&handlungsfeld=&state=", "themenforum=3&lead=VM&order=desc"):
        assert b.client.get(f"/api/proposals?{query}").status_code == 200
        assert b.client.get(f"/proposals?{query}").status_code == 200


def test_control_characters_in_next_fall_back_to_the_start_page(app: Flask) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": "koordination",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/proposals\r\nSet-Cookie: x=y",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_link_header_never_echoes_the_host(app: Flask, runtime: Runtime) -> None:
    _, token = accounts.create_token(runtime.store, "koordination", NOW, expires_in=None)
    headers = {"Host": "evil.example", "Authorization": f"Bearer {token}"}
    response = app.test_client().get("/api/proposals?limit=1", headers=headers)
    link = response.headers["Link"]
    assert "evil.example" not in link and link.startswith("</api/proposals?")


@pytest.fixture
def configured(
    tmp_path: Path, runtime: Runtime, settings: Settings, app: Flask
) -> Iterator[tuple[Flask, Path]]:
    """The app (its round and accounts) with base_url, trusted hosts and a public_dir
    holding a board, a dotfile, a link out of it and a secret beside it."""
    board = tmp_path / "board"
    board.mkdir()
    (board / "index.html").write_text("<p>Board</p>", encoding="utf-8")
    (board / ".env").write_text("SECRET=1", encoding="utf-8")
    (board / ".git").mkdir()
    (board / ".git" / "config").write_text("[core]", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("geheim", encoding="utf-8")
    (board / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (board / "sub").mkdir()
    config = tmp_path / "web.toml"
    config.write_text(
        f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[security]\nallow_impersonation = true\n'
        f'[web]\npublic_dir = "{board}"\nbase_url = "https://ruhrflow.nrw.example"\n'
        'trusted_hosts = ["ruhrflow.nrw.example", "localhost"]\n',
        encoding="utf-8",
    )
    own = load_settings(config, database_url=settings.database_url, env={})
    flask_app = create_app(own, runtime=runtime)
    flask_app.config["TESTING"] = True
    yield flask_app, board


def test_public_serves_only_regular_visible_files_inside_public_dir(
    configured: tuple[Flask, Path],
) -> None:
    app, _ = configured
    client = app.test_client()
    assert client.get("/public/").status_code == 200
    for path in ("/public/.env", "/public/.git/config", "/public/leak.txt", "/public/sub",
                 "/public/../secret.txt", "/public/%2e%2e/secret.txt"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"geheim" not in response.data and b"SECRET" not in response.data


def test_an_untrusted_host_is_refused(configured: tuple[Flask, Path]) -> None:
    app, _ = configured
    client = app.test_client()
    assert client.get("/login").status_code == 200  # localhost is trusted here
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/api/proposals", headers={"Host": "evil.example"}).status_code == 400


def test_the_link_header_is_built_from_base_url(configured: tuple[Flask, Path]) -> None:
    app, _ = configured
    b = login(app, "koordination")
    link = b.client.get("/api/proposals?limit=1").headers.get("Link", "")
    assert link == "" or link.startswith("<https://ruhrflow.nrw.example/api/proposals?")


@pytest.mark.parametrize(
    "query", ["until=9999-12-31", "since=2019-02-30", "since=abc", "until=0001-01-01"]
)
def test_an_audit_filter_that_is_no_day_is_400(app: Flask, query: str) -> None:
    b = login(app, "koordination")
    assert b.client.get(f"/audit?{query}").status_code == 400
    assert b.client.get("/audit?since=2019-07-01&until=").status_code == 200
