"""The proposal list's filter by version of the process definition (issue 14: "filters (state,
Handlungsfeld, Themenforum, lead ministry, definition version)"), in the page and the API."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from support import Cli, definition_next_version
from web_fixtures import login

from workflow import Runtime
from workflow.app.reads import list_rows


def _keys(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return sorted(re.findall(r'<a href="/proposals/([^"]+)">', body))


def test_the_list_filters_by_definition_version(
    app: Flask, runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    # given the round on version 3, then version 4 registered and one proposal added on it
    on_3 = sorted(r["key"] for r in list_rows(runtime))
    run = Cli(database_url)
    run("init", "--definition", str(definition_next_version(tmp_path)), actor=None)
    run("proposal", "add", "--key", "RK-03-22", "--title", "Neues Vorhaben (Testdaten)",
        "--handlungsfeld", "3", "--forum", "3", "--lead", "IM")  # fmt: skip
    b = login(app, "koordination")
    # when the coordinator filters by version, then each version shows its own proposals
    page = b.client.get("/proposals").get_data(as_text=True)
    assert 'id="definition_version"' in page
    assert _keys(b.client.get("/proposals?definition_version=3").get_data(as_text=True)) == on_3
    assert _keys(b.client.get("/proposals?definition_version=4").get_data(as_text=True)) == [
        "RK-03-22"
    ]
    none = b.client.get("/proposals?definition_version=9").get_data(as_text=True)
    assert not re.findall(r'<a href="/proposals/RK-', none)
    # and so does the API, with the CLI's definition_version in every row
    api = b.client.get("/api/proposals?definition_version=4").get_json()
    assert [(r["key"], r["definition_version"]) for r in api] == [("RK-03-22", 4)]
    api3 = b.client.get("/api/proposals?definition_version=3&limit=1000").get_json()
    assert sorted(r["key"] for r in api3) == on_3


def test_an_unknown_definition_version_is_an_error_as_in_the_cli(app: Flask) -> None:
    # given the round on version 3 only
    b = login(app, "koordination")
    # when the list is filtered by a version nobody registered
    page = b.client.get("/proposals?definition_version=9")
    download = b.client.get("/proposals?definition_version=9&format=csv")
    api = b.client.get("/api/proposals?definition_version=9")
    # then the page says so in German, the download is no empty file, and the API answers
    # with the CLI's error — it was an empty list in the web and an error in the CLI
    assert page.status_code == 422
    assert "Die Prozessversion 9 ist nicht registriert." in page.get_data(as_text=True)
    assert download.status_code == 422 and "attachment" not in download.headers.get(
        "Content-Disposition", ""
    )
    assert api.status_code == 422
    assert api.get_json()["error"] == "unknown definition version 9 (registered: 3)"
