"""Attaching a document in the browser (#27.6): the form, its German refusals, the list on
the proposal page, on SQLite and PostgreSQL; axe finds nothing on the page."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

from browser_fixtures import serving
from flask import Flask
from web_fixtures import PASSWORD, csrf_of, login

from workflow import Runtime

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"


def post_file(b: Any, key: str, content: bytes, name: str, **form: str) -> Any:
    page = b.client.get(f"/proposals/{key}/documents").get_data(as_text=True)
    data = {"csrf_token": csrf_of(page), "file": (io.BytesIO(content), name), **form}
    return b.client.post(f"/proposals/{key}/documents", data=data,
                         content_type="multipart/form-data")  # fmt: skip


def test_a_pdf_attached_to_a_statement_in_the_browser_downloads_byte_for_byte(
    app: Flask, runtime: Runtime
) -> None:
    runtime.engine.record_statement("RK-03-03", party="IHK zu Essen", group="ihk",
                                    position="support", text="", actor="koordination",
                                    now=datetime.now(UTC))  # fmt: skip
    b = login(app, "koordination")
    form = b.client.get("/proposals/RK-03-03/documents").get_data(as_text=True)
    assert "der Stellungnahme von IHK zu Essen" in form and "SHA-256" in form
    option = form.split("der Stellungnahme von IHK zu Essen")[0].rsplit('value="', 1)[1]
    statement_id = option.split('"', 1)[0]
    done = post_file(b, "RK-03-03", PDF, "Stellungnahme IHK.pdf", statement=statement_id,
                     comment="Stellungnahme (Testdaten)")  # fmt: skip
    assert done.status_code == 303, done.get_data(as_text=True)
    page = b.client.get("/proposals/RK-03-03").get_data(as_text=True)
    sha = hashlib.sha256(PDF).hexdigest()
    assert "Stellungnahme IHK.pdf" in page and "zur Stellungnahme von IHK zu Essen" in page
    assert "angehängt (Eintrag #" in page
    got = b.client.get(f"/api/proposals/RK-03-03/documents/{sha}")
    assert got.status_code == 200 and got.get_data() == PDF
    history = b.client.get("/api/proposals/RK-03-03/history").get_json()
    assert history[-1]["data"]["document"]["sha256"] == sha
    assert history[-1]["data"]["document"]["statement"] == int(statement_id)


def test_the_page_refuses_in_german_and_only_offers_what_the_account_may(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    html = post_file(b, "RK-03-01", b"<html>", "bericht.pdf")
    assert html.status_code == 422
    assert "Diese Datei wird nicht angenommen" in html.get_data(as_text=True)
    post_file(b, "RK-03-01", PDF, "a.pdf")
    again = post_file(b, "RK-03-01", PDF, "b.pdf")
    assert "Diese Datei ist bereits angehängt." in again.get_data(as_text=True)
    im = login(app, "im")  # RK-03-01 is VM's: no link, and the page refuses
    assert "Dokument anhängen" not in im.client.get("/proposals/RK-03-01").get_data(as_text=True)
    refused = im.client.get("/proposals/RK-03-01/documents")
    assert refused.status_code == 403
    assert "keine Dokumente anhängen" in refused.get_data(as_text=True)
    own = im.client.get("/proposals/RK-03-02").get_data(as_text=True)  # IM's own
    assert "Dokument anhängen" in own


def test_the_document_page_is_accessible(browser: Any, app: Flask) -> None:
    from axe_playwright_python.sync_playwright import Axe

    with serving(app) as url:
        context = browser.new_context(base_url=url, locale="de-DE")
        page = context.new_page()
        try:
            page.goto("/login")
            page.get_by_label("Benutzername").fill("koordination")
            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            page.goto("/proposals/RK-03-01/documents")
            page.get_by_label("Datei (Pflichtangabe)").set_input_files(
                files=[{"name": "vorlage.pdf", "mimeType": "application/pdf", "buffer": PDF}]
            )
            page.get_by_role("button", name="Dokument anhängen").click()
            assert "vorlage.pdf" in page.inner_text("main")
            results = Axe().run(page)
            assert results.violations_count == 0, results.generate_report()
            page.goto("/proposals/RK-03-01/documents")
            results = Axe().run(page)
            assert results.violations_count == 0, results.generate_report()
        finally:
            context.close()
