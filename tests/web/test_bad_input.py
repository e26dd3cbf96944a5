"""Crafted URLs and form values get the same clear answer on SQLite and PostgreSQL.

A control character in a URL reached the database: PostgreSQL refused the NUL (422, "nothing
was changed", on a page that changes nothing) where SQLite found nothing (200 or 404). Numbers
past 64 bits reached OFFSET and gave 500 on both; "²", a digit to ``str.isdigit``, gave 500
where ``int`` refused it. Each is now refused or bounded before any query.
"""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import func, select
from web_fixtures import csrf_of, login

from workflow import Runtime
from workflow.app.reads import history_rows
from workflow.store.schema import web_login_throttle

HUGE = "9" * 30  # past 64 bits
ENORMOUS = "9" * 5000  # past the 4,300 digits int() converts

CRAFTED_PAGES = [
    "/proposals?q=a%00b",
    "/proposals?state=%01",
    "/proposals?lead=%E2%80%AEvm",  # a bidi override
    "/proposals/RK-03-01%00",
    "/proposals/RK-03-01/history%0A",
    "/audit?actor=%00",
    "/worklist?page=1&x%00=1",  # in a parameter's name
]


@pytest.mark.parametrize("path", CRAFTED_PAGES)
def test_a_url_with_a_control_character_is_refused_before_any_query(
    app: Flask, runtime: Runtime, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import event

    b = login(app, "koordination")
    statements: list[str] = []
    event.listen(runtime.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with caplog.at_level(logging.WARNING, logger="workflow.web"):
        response = b.client.get(path)
    assert response.status_code == 400
    assert "Die Adresse enthält ein unzulässiges Zeichen." in response.get_data(as_text=True)
    assert statements == []  # not even the session's account check
    assert "refused: GET" in caplog.text


def test_the_api_refuses_it_in_one_line_of_json(app: Flask) -> None:
    b = login(app, "koordination")
    response = b.client.get("/api/proposals?q=%00")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "the query parameter 'q' contains a control character (U+0000)",
        "message": "Die Anfrage war ungültig.",
    }


@pytest.mark.parametrize(
    "path",
    [
        f"/proposals?page={HUGE}",
        f"/proposals?state=implementation&page={HUGE}",
        f"/worklist?page={HUGE}",
        f"/proposals?handlungsfeld={HUGE}",
        f"/proposals?themenforum={HUGE}",
        "/proposals?page=%C2%B2",  # "²"
        "/worklist?page=%C2%B2",
        f"/proposals?page={ENORMOUS}",
        f"/worklist?page={ENORMOUS}",
        f"/proposals?handlungsfeld={ENORMOUS}",
    ],
)
def test_a_huge_or_strange_number_in_a_page_url_is_bounded(app: Flask, path: str) -> None:
    b = login(app, "koordination")
    assert b.client.get(path).status_code == 200


def test_a_page_far_past_the_end_shows_the_last_page(app: Flask) -> None:
    b = login(app, "koordination")
    last = b.client.get("/proposals?page=100000").get_data(as_text=True)
    huge = b.client.get(f"/proposals?page={HUGE}").get_data(as_text=True)
    assert "Seite 1 von 1" in huge and "RK-03-01" in huge
    assert huge.count("<tr") == last.count("<tr")


def test_a_version_past_every_id_matches_nothing(app: Flask) -> None:
    # (an unknown version is an error, as in the CLI: the German page, no rows, no 500)
    b = login(app, "koordination")
    response = b.client.get(f"/proposals?definition_version={HUGE}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "ist nicht registriert" in html
    assert "RK-03-01" not in html


@pytest.mark.parametrize("offset", [HUGE, "%C2%B2", ENORMOUS, "2147483648"])
def test_the_api_refuses_an_offset_past_its_range(app: Flask, offset: str) -> None:
    b = login(app, "koordination")
    response = b.client.get(f"/api/proposals?offset={offset}")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "offset must be an integer from 0 to 2147483647",
        "message": "Die Anfrage war ungültig.",
    }


@pytest.mark.parametrize("name", ["koordination\x00", "a\x00b", "ko\nordination", "\u202eim"])
def test_a_user_name_with_a_control_character_is_a_failed_login_on_both_backends(
    app: Flask, runtime: Runtime, name: str
) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": name, "password": "falsch", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Benutzername oder Passwort ist falsch." in response.get_data(as_text=True)
    with runtime.store.read() as conn:  # no account can have the name: nothing to count
        assert conn.execute(select(func.count()).select_from(web_login_throttle)).scalar() == 0


def test_the_api_takes_the_largest_offset_it_names(app: Flask) -> None:
    b = login(app, "koordination")
    response = b.client.get("/api/proposals?offset=2147483647")
    assert response.status_code == 200 and response.get_json() == []


@pytest.mark.parametrize("year", ["²⁰²¹", ENORMOUS, "02021"])
def test_a_funding_year_of_other_than_four_ascii_digits_is_a_form_error(
    app: Flask, runtime: Runtime, year: str
) -> None:
    b = login(app, "im")
    before = len(history_rows(runtime, "RK-03-02"))
    response = b.post("/proposals/RK-03-02/funding", {"source": "eu", "amount": "1", "year": year})
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Das Jahr muss zwischen 2000 und 2100 liegen." in page
    assert len(history_rows(runtime, "RK-03-02")) == before


@pytest.mark.parametrize("version", ["\u0665", ENORMOUS, ""])  # Arabic-Indic 5
def test_an_action_with_a_version_of_other_digits_is_refused(
    app: Flask, runtime: Runtime, version: str
) -> None:
    b = login(app, "koordination")
    before = len(history_rows(runtime, "RK-03-01"))
    response = b.post(
        "/proposals/RK-03-01/actions/approve",
        {"step": "confirm", "field_decision_date": "2019-11-05", "expected_version": version},
    )
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Die Version des Vorschlags fehlt oder ist ungültig." in page
    assert len(history_rows(runtime, "RK-03-01")) == before


def test_a_pasted_tab_in_the_search_is_text(app: Flask) -> None:
    b = login(app, "koordination")
    assert b.client.get("/proposals?q=Radschnellweg%09Ruhr").status_code == 200
