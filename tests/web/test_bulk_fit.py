"""The bulk form offers only the actions that fit the chosen state and the account's role
(#27.7): without JavaScript by a button that shows the actions of the chosen state, with it as
the state changes (static/bulk.js); the server refuses a combination that does not fit."""

from __future__ import annotations

import re

from flask import Flask
from web_fixtures import login


def _options(page: str, name: str) -> dict[str, str]:
    """The options a person can choose (not those hidden and disabled)."""
    select = page.split(f'<select id="{name}" name="{name}"', 1)[1].split("</select>", 1)[0]
    found = re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select)
    return {value: label for value, attrs, label in found if value and "disabled" not in attrs}


def test_a_chosen_state_offers_only_its_actions_for_the_role(app: Flask) -> None:
    b = login(app, "koordination")
    page = b.client.get("/bulk?state=implementation").get_data(as_text=True)
    # report_progress leaves implementation, but only the lead ministry may report
    assert set(_options(page, "trigger")) == {"complete", "discontinue", "merge"}
    assert _options(page, "trigger")["complete"] == "Vorhaben abschließen"
    page = b.client.get("/bulk?state=proposed").get_data(as_text=True)
    assert set(_options(page, "trigger")) == {"open_consultation", "withdraw", "admit"}
    # and only the fields those actions ask for
    assert 'name="field_decision_date"' in page and 'name="field_reason"' in page
    assert 'name="field_progress"' not in page


def test_without_a_state_the_role_decides_and_final_states_are_not_offered(app: Flask) -> None:
    b = login(app, "koordination")
    page = b.client.get("/bulk").get_data(as_text=True)
    triggers = set(_options(page, "trigger"))
    assert "report_progress" not in triggers and "approve" in triggers
    states = set(_options(page, "state"))
    assert "completed" not in states and "rejected" not in states
    assert {"idea", "proposed", "implementation"} <= states


def test_the_form_narrows_without_javascript_and_with_it(app: Flask) -> None:
    page = login(app, "koordination").client.get("/bulk").get_data(as_text=True)
    # a plain button shows the actions of the chosen state (a POST: the typed text stays)
    assert re.search(
        r'<button type="submit" name="narrow" value="1" formnovalidate>Aktionen für diesen Status'
        r" anzeigen</button>",
        page,
    )
    b = login(app, "koordination")
    narrowed = b.post("/bulk", {"step": "preview", "narrow": "1", "state": "implementation",
                                "comment": "Sammelbeschluss"})  # fmt: skip
    text = narrowed.get_data(as_text=True)  # type: ignore[attr-defined]
    assert narrowed.status_code == 200  # type: ignore[attr-defined]
    assert set(_options(text, "trigger")) == {"complete", "discontinue", "merge"}
    assert "Sammelbeschluss</textarea>" in text and "Vorschau der Sammelaktion" not in text
    # and with JavaScript, bulk.js does the same as the state changes: every option says
    # which states it leaves
    assert '<option value="admit" data-states="ministry_review proposed">' in page
    assert "/static/bulk.js" in page


def test_an_action_that_does_not_fit_the_state_is_refused_in_german(app: Flask) -> None:
    b = login(app, "koordination")
    response = b.post("/bulk", {"step": "preview", "state": "proposed", "trigger": "approve"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert (
        "„Kabinettbeschluss (Umsetzung)“ ist im Status „Vorschlag eingereicht“ nicht möglich"
        in page
    )
    assert "Vorschau der Sammelaktion" not in page
    response = b.post("/bulk", {"step": "preview", "state": "implementation",
                                "trigger": "report_progress", "field_progress": "50"})  # fmt: skip
    assert response.status_code == 400  # type: ignore[attr-defined]


def test_the_refusals_after_a_bulk_action_are_german(app: Flask) -> None:
    b = login(app, "koordination")
    form = {"state": "proposed", "trigger": "admit", "field_decision_date": "2019-11-05"}
    keys = ["RK-05-01", "RK-05-02", "RK-05-03"]
    done = b.client.post(
        "/bulk",
        data={"csrf_token": b.csrf, "step": "apply", "mode": "partial", "keys": keys, **form},
    )
    text = done.get_data(as_text=True)
    assert "1 ausgeführt, 2 abgelehnt" in text
    refused = text.split("<h2>Abgelehnt</h2>", 1)[1]
    assert "RK-05-02: Voraussetzung nicht erfüllt: " in refused
    assert "guard" not in refused and "financing_secured" not in refused
    # a decision dated in the future: nothing applied, said in German
    future = {**form, "field_decision_date": "2999-01-01"}
    refused_all = b.client.post(
        "/bulk",
        data={"csrf_token": b.csrf, "step": "apply", "mode": "all", "keys": keys[1:], **future},
    )
    assert refused_all.status_code == 422
    assert "Der 01.01.2999 liegt in der Zukunft" in refused_all.get_data(as_text=True)
