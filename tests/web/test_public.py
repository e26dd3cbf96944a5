"""``/public/``: the published board, served without a login, exactly as ``publish`` wrote it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from web_fixtures import build_round

from workflow import Runtime, Settings, load_settings
from workflow.publish import publish
from workflow.web import create_app


def _app_serving(runtime: Runtime, settings: Settings, tmp_path: Path, board: Path | None) -> Flask:
    config = tmp_path / "web.toml"
    line = f'public_dir = "{board}"\n' if board is not None else ""
    config.write_text(f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[web]\n{line}', encoding="utf-8")
    served = load_settings(config, database_url=settings.database_url, env={})
    app = create_app(served, runtime=runtime)
    app.config["TESTING"] = True
    return app


def _published(runtime: Runtime, tmp_path: Path) -> Path:
    build_round(runtime)
    output = tmp_path / "board"
    now = datetime.now(UTC)
    publish(
        runtime.store,
        runtime.directory,
        output,
        as_of=(now - timedelta(days=1)).date(),
        now=now,
        actor_id="koordination",
        audit_key=runtime.engine.audit_key,
        base_url="https://ruhrkonferenz.nrw.example/board/",
    )
    return output


def test_anyone_reads_the_published_board_byte_for_byte(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    # given a board that `publish` wrote, and an app that serves it
    board = _published(runtime, tmp_path)
    client = _app_serving(runtime, settings, tmp_path, board).test_client()
    # when somebody without a login asks for it
    index = client.get("/public/")
    # then they get the published files, unchanged, and no session
    assert index.status_code == 200
    assert index.data == (board / "index.html").read_bytes()
    assert "Set-Cookie" not in index.headers
    for name in ("proposals.csv", "proposals.json", "catalog.ttl", "fields.html"):
        response = client.get(f"/public/{name}")
        assert response.status_code == 200, name
        assert response.data == (board / name).read_bytes(), name
    assert client.get("/public/catalog.ttl").mimetype == "text/turtle"
    # and the board may style itself but run no script
    policy = index.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy


def test_nothing_outside_the_board_is_served(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    board = _published(runtime, tmp_path)
    (tmp_path / "secret.txt").write_text("not public", encoding="utf-8")
    client = _app_serving(runtime, settings, tmp_path, board).test_client()
    for path in ("/public/../secret.txt", "/public/%2e%2e/secret.txt", "/public/missing.html"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"not public" not in response.data
    # the staff pages still want a login
    assert client.get("/proposals").status_code in (302, 303, 401)


def test_without_a_published_board_public_is_not_found(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    client = _app_serving(runtime, settings, tmp_path, None).test_client()
    assert client.get("/public/").status_code == 404
