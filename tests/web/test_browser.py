"""The web application in a real browser (Debian's chromium), with an axe-core scan per page.

The app runs in a thread on 127.0.0.1 with a random port; one browser serves the session
(tests/browser_fixtures.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import accessible, serving
from browser_fixtures import log_in as log_in_with
from flask import Flask
from playwright.sync_api import expect


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, locale="de-DE")
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page: Any, actor: str) -> None:
    log_in_with(page, actor, check_login_page=True)  # axe on the login form too


def test_coordinator_approves_through_the_form(page: Any) -> None:
    log_in(page, "koordination")
    expect(page.get_by_role("heading", name="Meine Aufgaben")).to_be_visible()
    accessible(page, "tasks")
    page.get_by_role("link", name="Arbeitsliste").click()
    expect(page.get_by_role("heading", name="Arbeitsliste: offene Fristen")).to_be_visible()
    accessible(page, "worklist")
    page.goto("/proposals")
    accessible(page, "proposals")
    page.goto("/proposals/RK-03-01")
    accessible(page, "proposal")
    page.get_by_role("link", name="Kabinettbeschluss (Umsetzung)").click()
    accessible(page, "action")
    page.get_by_label("Datum des Beschlusses (Pflichtangabe)").fill("2019-11-05")
    page.get_by_label("Kommentar").fill("Kabinettbeschluss vom 5.11.2019")
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    accessible(page, "confirm")
    page.get_by_role("button", name="Bestätigen und ausführen").click()
    assert (
        page.get_by_role("status")
        .inner_text()
        .startswith("RK-03-01: „Kabinettbeschluss (Umsetzung)“ ausgeführt")
    )
    history = page.locator("section", has=page.get_by_role("heading", name="Historie"))
    assert "Kabinettbeschluss vom 5.11.2019" in history.inner_text()


def test_a_blocked_action_shows_its_reason(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/proposals/RK-03-03")
    button = page.get_by_role("button", name="Beteiligung abschließen")
    assert button.is_disabled()
    why = page.locator("#why-close_consultation").inner_text()
    assert "Noch keine Stellungnahme von" in why and "guard" not in why
    page.get_by_role("link", name="Stellungnahme erfassen").click()
    accessible(page, "statement")
    page.get_by_label("Wer hat Stellung genommen? (Pflichtangabe)").fill("Stadt Essen")
    page.get_by_label("Haltung").select_option("concerns")
    page.get_by_role("button", name="Stellungnahme erfassen").click()
    assert "Stadt Essen (Kommune): Bedenken" in page.inner_text("main")
    page.goto("/proposals/RK-99-99")
    accessible(page, "error")


def test_ministry_reports_progress(page: Any) -> None:
    log_in(page, "im")
    expect(page.get_by_role("link", name="Meine Vorhaben")).to_be_visible()
    page.get_by_role("link", name="RK-03-02").click()
    page.get_by_role("link", name="Umsetzungsstand melden").click()
    page.get_by_label("Umsetzungsstand in Prozent (Pflichtangabe)").fill("40")
    page.get_by_label("Kommentar").fill("Ausschreibung läuft")
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    page.get_by_role("button", name="Bestätigen und ausführen").click()
    assert "Ausschreibung läuft" in page.inner_text("main")
    # and records a funding line through its form
    page.get_by_role("link", name="Finanzierung erfassen").click()
    accessible(page, "funding")
    page.get_by_label("Quelle").select_option("bund")
    page.get_by_label("Betrag in Euro (Pflichtangabe)").fill("120.000,00")
    page.get_by_label("Haushaltsjahr (Pflichtangabe)").fill("2021")
    page.get_by_label("Die Mittel sind gesichert (sonst: geplant)").check()
    page.get_by_role("button", name="Finanzierung erfassen").click()
    funding = page.locator("section", has=page.get_by_role("heading", name="Finanzierung"))
    assert "2021 Bund" in funding.inner_text() and "gesichert" in funding.inner_text()


def test_bulk_preview_then_apply(page: Any) -> None:
    log_in(page, "koordination")
    page.goto("/bulk")
    accessible(page, "bulk")
    page.get_by_label("Vorschläge im Status").select_option("proposed")
    page.get_by_label("Aktion").select_option("admit")
    page.get_by_label("Datum des Beschlusses").fill("2019-11-05")
    page.get_by_role("button", name="Vorschau").click()
    accessible(page, "bulk_preview")
    assert "wird abgelehnt: Gesichert sind 0 €" in page.inner_text("main")
    page.get_by_role("button", name="Nur die möglichen ausführen").click()
    assert "1 ausgeführt, 2 abgelehnt" in page.get_by_role("status").inner_text()
    accessible(page, "bulk_done")


def test_auditor_reads_the_audit_log(page: Any) -> None:
    log_in(page, "pruefung")
    page.get_by_role("link", name="Zum Prüfprotokoll").click()
    expect(page.get_by_role("heading", name="Prüfprotokoll")).to_be_visible()
    accessible(page, "audit")
    # verifies every chain and sets a checkpoint from the page
    page.get_by_role("button", name="Alle Ketten jetzt prüfen").click()
    assert page.get_by_role("status").inner_text().startswith("Prüfung bestanden")
    page.get_by_role("button", name="Checkpoint setzen").click()
    assert page.get_by_role("status").inner_text().startswith("Checkpoint gesetzt")
    accessible(page, "audit_recorded")


def test_an_sso_login_and_its_logout_at_the_issuer(
    browser: Any, app: Flask, runtime: Any, database_url: str, tmp_path: Path
) -> None:
    # The logout form's 303 leads to the issuer: the browser checks that redirect against
    # the page's form-action, which the test client cannot show.
    from conftest import test_config_text
    from oidc_provider import CLIENT_SECRET, oidc_config, running_provider

    from workflow import load_settings
    from workflow.web import create_app

    with running_provider() as idp:
        idp.user = {"sub": "u-30", "groups": ["/ruhrkonferenz/koordination"]}
        config = tmp_path / "sso.toml"
        config.write_text(test_config_text(tmp_path / "mail") + oidc_config(idp.issuer), "utf-8")
        settings = load_settings(
            config, database_url=database_url, env={"RUHRFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET}
        )
        with serving(create_app(settings, runtime=runtime)) as url:
            context = browser.new_context(base_url=url, locale="de-DE")
            page = context.new_page()
            try:
                page.goto("/login")
                accessible(page, "login_sso")
                page.get_by_role("link", name="Mit Landes-SSO anmelden").click()
                page.wait_for_load_state()
                expect(page.get_by_role("heading", name="Meine Aufgaben")).to_be_visible()
                page.get_by_role("button", name="Abmelden").click()
                page.wait_for_url(f"{url}/login")
                expect(page.get_by_label("Passwort")).to_be_visible()
                assert [entry["client_id"] for entry in idp.logouts] == ["ruhrflow"]
                # and the session here is gone
                page.goto("/worklist")
                assert page.url.startswith(f"{url}/login")
            finally:
                context.close()


def test_the_published_board_is_accessible(
    browser: Any, app: Flask, runtime: Any, settings: Any, tmp_path: Path
) -> None:
    # the board `ruhrflow publish` writes, as /public/ serves it, with the note a database of
    # sample data puts on every page (its contrast is checked too)
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from workflow import load_settings
    from workflow.publish import publish
    from workflow.store.installation import mark_sample_data
    from workflow.web import create_app

    with runtime.store.write() as conn:
        mark_sample_data(conn, "Beispieldaten für den Test: die Stände sind erfunden.")
    board = tmp_path / "board"
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Europe/Berlin")).date()  # the round's projects started today
    result = publish(runtime.store, runtime.directory, board, as_of=today, now=now,
                     actor_id="koordination", audit_key=runtime.engine.audit_key,
                     base_url="https://ruhrkonferenz.nrw.example/board/")  # fmt: skip
    projects = [name for name in result.files if name.startswith("projekt-")]
    assert projects, "the round has no decided project to show"
    config = tmp_path / "public.toml"
    config.write_text(f'[mail]\nmaildir = "{tmp_path / "mail"}"\n[web]\npublic_dir = "{board}"\n',
                      encoding="utf-8")  # fmt: skip
    served = load_settings(config, database_url=settings.database_url, env={})
    with serving(create_app(served, runtime=runtime)) as url:
        context = browser.new_context(base_url=url, locale="de-DE")
        page = context.new_page()
        try:
            for name in ("index.html", "fields.html", projects[0]):
                page.goto(f"/public/{name}")
                assert page.get_by_role("note").inner_text().startswith("Hinweis: Beispieldaten")
                accessible(page, f"board_{name.removesuffix('.html')}")
        finally:
            context.close()
