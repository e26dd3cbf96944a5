"""Creating and correcting a proposal in a real browser (Debian's chromium), with an axe-core
scan of every new page: #27's "a proposal is created and its cost estimate corrected in the
browser, with history entries"."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import accessible, log_in, serving
from flask import Flask
from playwright.sync_api import expect

from workflow import Runtime
from workflow.app.reads import history_rows
from workflow.process.german import euro


@pytest.fixture
def page(browser: Any, app: Flask) -> Iterator[Any]:
    with serving(app) as url:
        context = browser.new_context(base_url=url, locale="de-DE")
        pg = context.new_page()
        yield pg
        context.close()


def test_a_coordinator_creates_a_proposal_and_corrects_its_cost_estimate(
    page: Any, runtime: Runtime
) -> None:
    # given the coordinator on „Meine Aufgaben“
    log_in(page, "koordination")
    expect(page.get_by_role("heading", name="Meine Aufgaben")).to_be_visible()
    accessible(page, "tasks")
    # when it creates a proposal through the form
    page.get_by_role("link", name="Neuer Vorschlag").click()
    accessible(page, "create")
    page.get_by_label("Titel (Pflichtangabe)").fill("Quartiersgaragen für Lastenräder")
    page.get_by_label("Kurzbeschreibung").fill("Sichere Stellplätze in Bochum")
    page.get_by_label("Handlungsfeld (Pflichtangabe)").select_option("1")
    page.get_by_label("Themenforum (Pflichtangabe)").fill("7")
    page.get_by_label("Federführendes Ressort (Pflichtangabe)").select_option("VM")
    page.get_by_label("MULNV", exact=False).check()
    page.get_by_label("Kostenschätzung in Euro").fill("1.000,00")
    page.get_by_role("button", name="Vorschlag anlegen").click()
    # then its page greets it
    assert page.get_by_role("status").inner_text().startswith("RK-07-01: Vorschlag angelegt.")
    assert page.get_by_role("heading", level=1).inner_text().startswith("RK-07-01")
    # when it corrects the cost estimate
    page.get_by_role("link", name="Angaben korrigieren").click()
    accessible(page, "edit")
    shown = page.get_by_label("Kostenschätzung in Euro").input_value()
    assert shown == euro(Decimal(1000)).removesuffix(" €")  # German, as the page shows amounts
    page.get_by_label("Kostenschätzung in Euro").fill("2.500,00")
    page.get_by_label("Kommentar").fill("Schätzung des Ressorts")
    page.get_by_role("button", name="Korrektur speichern").click()
    # then both are in the history, the correction with its old and new value
    assert "Angaben korrigiert (Kostenschätzung" in page.get_by_role("status").inner_text()
    history = page.locator("section", has=page.get_by_role("heading", name="Historie"))
    text = history.inner_text()
    assert "Angelegt" in text and "Angaben korrigiert" in text and "Schätzung des Ressorts" in text
    assert f"Kostenschätzung: {euro(Decimal(1000))} → {euro(Decimal(2500))}" in text
    entries = history_rows(runtime, "RK-07-01")
    assert [e["kind"] for e in entries] == ["created", "edit"]
    assert entries[1]["data"]["changes"] == {"cost_estimate": {"old": "1000.00", "new": "2500.00"}}


def test_a_refused_form_shows_the_reason_and_keeps_the_input(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/proposals/new")
    page.get_by_label("Titel (Pflichtangabe)").fill("Ein Titel")
    page.get_by_label("Handlungsfeld (Pflichtangabe)").select_option("2")
    page.get_by_label("Themenforum (Pflichtangabe)").fill("7")
    page.get_by_label("Federführendes Ressort (Pflichtangabe)").select_option("VM")
    page.get_by_label("Kostenschätzung in Euro").fill("viel")
    page.get_by_role("button", name="Vorschlag anlegen").click()
    assert "ist kein Betrag in Euro" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Titel (Pflichtangabe)").input_value() == "Ein Titel"
    assert page.get_by_label("Kostenschätzung in Euro").input_value() == "viel"
    accessible(page, "create-refused")


def test_an_upload_is_previewed_in_the_browser(page: Any, tmp_path: Path) -> None:
    csv = tmp_path / "vorschlaege.csv"
    csv.write_text(
        "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary\n"
        ",Wasserstoff-Busse für die Emscher-Lippe-Region,4,8,VM,MWIDE;MULNV,3000000.50,\n",
        encoding="utf-8",
    )
    page.set_viewport_size({"width": 320, "height": 800})
    log_in(page, "koordination")
    page.goto("/proposals/import")
    accessible(page, "import")
    page.get_by_label("CSV-Datei (Pflichtangabe)").set_input_files(str(csv))
    page.get_by_role("button", name="Prüfen (Vorschau)").click()
    assert "Die Zeile ist in Ordnung" in page.inner_text("main")
    accessible(page, "import-preview")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    page.get_by_role("button", name="Den Vorschlag importieren").click()
    assert page.get_by_role("status").inner_text().startswith("1 Vorschlag importiert: RK-08-01")
