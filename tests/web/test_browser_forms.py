"""Forms in a real browser (#27.4, #27.7): "Zurück" keeps what was typed, the bulk form offers
the actions of the chosen state as it changes (htmx), and a decision dated in the future is
refused in German — axe finds no violation on the pages on the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_fixtures import accessible, log_in, serving
from flask import Flask


@pytest.fixture
def page(browser: Any, app: Flask) -> Iterator[Any]:
    with serving(app) as url:
        context = browser.new_context(base_url=url, locale="de-DE")
        yield context.new_page()
        context.close()


def test_back_from_the_confirmation_keeps_what_was_typed(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/proposals/RK-03-01/actions/approve")
    page.get_by_label("Datum des Beschlusses (Pflichtangabe)").fill("2019-11-05")
    page.get_by_label("Kommentar").fill("Kabinettbeschluss vom 5.11.2019\nmit Auflagen")
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    assert page.get_by_role("heading", name="Bitte bestätigen: Kabinettbeschluss (Umsetzung)")
    accessible(page, "confirm")
    page.get_by_role("button", name="Zurück").click()
    assert page.get_by_label("Datum des Beschlusses (Pflichtangabe)").input_value() == "2019-11-05"
    assert page.get_by_label("Kommentar").input_value() == (
        "Kabinettbeschluss vom 5.11.2019\nmit Auflagen"
    )
    accessible(page, "action_again")


def test_a_decision_dated_in_the_future_is_refused_in_german(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/proposals/RK-03-01/actions/approve")
    page.get_by_label("Datum des Beschlusses (Pflichtangabe)").fill("2031-06-30")
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    refusal = page.get_by_role("alert").inner_text()
    assert "Der 30.06.2031 liegt in der Zukunft" in refusal, refusal
    assert "decision_date" not in refusal
    accessible(page, "action_refused")


def test_the_bulk_form_offers_the_actions_of_the_chosen_state(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/bulk")
    accessible(page, "bulk")
    page.get_by_label("Vorschläge im Status").select_option("implementation")
    offered = "#trigger option:not([value='']):not([disabled])"
    page.wait_for_function(f'() => document.querySelectorAll("{offered}").length === 3')
    trigger = page.locator(offered)
    assert sorted(trigger.all_inner_texts()) == [
        "Mit einem anderen Vorhaben zusammenführen",
        "Nicht weiterverfolgen",
        "Vorhaben abschließen",
    ]
    accessible(page, "bulk_narrowed")
