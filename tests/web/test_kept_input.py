"""What was typed is not lost (#27.7): "Zurück" on the confirmation page, an expired CSRF
token, and a new login in another tab all bring the form back with the text in it — and do
nothing yet."""

from __future__ import annotations

import html
import re

from flask import Flask
from web_fixtures import PASSWORD, Browser, csrf_of, login

from workflow import Runtime
from workflow.app.reads import show_detail

COMMENT = 'Kabinett: "Vorrang" für Radwege & <Schulwege>\nzweite Zeile'
ACTION = "/proposals/RK-03-01/actions/approve"


def _typed(b: Browser, data: dict[str, str]) -> dict[str, str]:
    return {"field_decision_date": "2019-11-05", "comment": COMMENT, **data}


def _state(runtime: Runtime) -> tuple[str, int]:
    detail = show_detail(runtime, "RK-03-01")
    return detail["state"], detail["version"]


def _shows_the_typed_form(page: str) -> None:
    assert 'name="step" value="review"' in page  # the form, not the confirmation
    assert 'value="2019-11-05"' in page
    typed = re.search(r'<textarea id="comment" name="comment"[^>]*>(.*?)</textarea>', page, re.S)
    assert typed and html.unescape(typed.group(1)) == COMMENT, page


def test_back_on_the_confirmation_page_keeps_what_was_typed(app: Flask, runtime: Runtime) -> None:
    # Given a coordinator on the confirmation page of the cabinet's decision
    b = login(app, "koordination")
    confirm = b.post(ACTION, _typed(b, {"step": "review"})).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Bitte bestätigen" in confirm
    # then "Zurück" is a button of the form, which carries the values (no link that forgets)
    assert re.search(r'<button[^>]*name="step" value="edit"[^>]*>Zurück</button>', confirm)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    assert hidden["field_decision_date"] == "2019-11-05"
    # when they go back, as the browser sends that button
    data = {name: html.unescape(value) for name, value in hidden.items()}
    back = b.client.post(ACTION, data={**data, "step": "edit"})
    # then the form shows what they typed, and nothing was done
    assert back.status_code == 200
    _shows_the_typed_form(back.get_data(as_text=True))
    assert _state(runtime)[0] == "cabinet"


def test_an_expired_token_brings_the_form_back_with_the_text(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    before = _state(runtime)
    # when the form is sent with a token the session no longer knows
    response = b.client.post(
        ACTION, data={**_typed(b, {"step": "review"}), "csrf_token": "abgelaufen"}
    )
    # then nothing is done, the form is back with the text and a fresh token, and says why
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    _shows_the_typed_form(page)
    assert "Das Formular war abgelaufen" in page
    assert csrf_of(page) != "abgelaufen"
    assert _state(runtime) == before
    # and sending it again goes on to the confirmation
    again = b.client.post(
        ACTION, data={**_typed(b, {"step": "review"}), "csrf_token": csrf_of(page)}
    )
    assert "Bitte bestätigen" in again.get_data(as_text=True)


def test_a_new_login_in_another_tab_does_not_lose_the_text(app: Flask, runtime: Runtime) -> None:
    # Given the action form open in one tab
    b = login(app, "koordination")
    old_token = csrf_of(b.client.get(ACTION).get_data(as_text=True))
    # when the account logs in again in another tab (same browser, same cookies)
    token = csrf_of(b.client.get("/login").get_data(as_text=True))
    b.client.post(
        "/login", data={"username": "koordination", "password": PASSWORD, "csrf_token": token}
    )
    # and the first tab sends its form with the token of the old session
    sent = {**_typed(b, {"step": "confirm"}), "expected_version": str(_state(runtime)[1])}
    response = b.client.post(ACTION, data={**sent, "csrf_token": old_token})
    # then the form is back with the text, and nothing happened
    assert response.status_code == 400
    _shows_the_typed_form(response.get_data(as_text=True))
    assert _state(runtime)[0] == "cabinet"


def test_the_funding_and_statement_forms_keep_their_input_too(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    funding = b.client.post(
        "/proposals/RK-03-01/funding",
        data={"source": "bund", "amount": "120.000,00", "year": "2021", "csrf_token": "alt"},
    )
    assert funding.status_code == 400
    page = funding.get_data(as_text=True)
    assert 'value="120.000,00"' in page and 'value="2021"' in page
    statement = b.client.post(
        "/proposals/RK-03-03/statements",
        data={"party": "Stadt Essen", "group": "kommune", "position": "concerns",
              "text": "Lange Stellungnahme", "csrf_token": "alt"},
    )  # fmt: skip
    assert statement.status_code == 400
    page = statement.get_data(as_text=True)
    assert 'value="Stadt Essen"' in page and "Lange Stellungnahme" in page
    assert show_detail(runtime, "RK-03-03")["statements"] == []


def test_an_api_call_with_a_bad_token_still_gets_its_json_error(app: Flask) -> None:
    b = login(app, "koordination")
    response = b.client.post("/api/proposals/RK-03-01/advance", json={"trigger": "approve"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "CSRF token missing or invalid"


def test_an_expired_token_on_a_form_this_account_may_not_see_is_the_csrf_page(
    app: Flask,
) -> None:
    # Given a ministry (no bulk form for it) and a coordinator (no proposal 'RK-99-99')
    for actor, path in (("im", "/bulk"), ("koordination", "/proposals/RK-99-99/edit")):
        b = login(app, actor)
        # when a form is sent there with a token the session no longer knows
        response = b.client.post(path, data={"comment": "x", "csrf_token": "abgelaufen"})
        # then the refused token's page answers (400, German), not a 500 from its handler
        assert response.status_code == 400, (actor, path, response.status_code)
        assert "Das Formular ist abgelaufen" in response.get_data(as_text=True)
