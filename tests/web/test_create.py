"""Creating and correcting proposals in the browser (#27.5): the form of ``/proposals/new``,
the CSV upload with its preview, the correction form; German reasons, and the form keeps
what was typed."""

from __future__ import annotations

import html as markup
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.app.reads import history_rows, list_rows, show_detail

FORM = {
    "title": "Quartiersgaragen für Lastenräder",
    "summary": "Sichere Stellplätze\r\nin Bochum und Herne",
    "handlungsfeld": "1",
    "themenforum": "7",
    "lead": "VM",
    "participating": ["MHKBG", "MULNV"],
    "cost": "1.250.000,50",
    "source": "Protokoll Themenforum 7, 2019-06-12",
}


def _keys(runtime: Runtime) -> set[str]:
    return {r["key"] for r in list_rows(runtime)}


def _page(response: Any) -> str:
    return markup.unescape(response.get_data(as_text=True))


def test_a_coordinator_creates_a_proposal_with_the_form(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    form = b.client.get("/proposals/new").get_data(as_text=True)
    assert 'name="csrf_token"' in form and "Kostenschätzung in Euro" in form
    # when the coordinator sends the form
    done = b.post("/proposals/new", FORM)
    # then the proposal is there, in the initial state, with the next key of forum 7
    assert done.status_code == 303, _page(done)  # type: ignore[attr-defined]
    assert done.headers["Location"] == "/proposals/RK-07-01"  # type: ignore[attr-defined]
    p = show_detail(runtime, "RK-07-01")
    assert (p["title"], p["state"], p["lead"]) == (FORM["title"], "idea", "VM")
    assert p["summary"] == "Sichere Stellplätze\nin Bochum und Herne"
    assert sorted(p["participating"]) == ["MHKBG", "MULNV"]
    assert Decimal(str(p["cost_estimate"])) == Decimal("1250000.50")
    assert p["data"]["source"] == FORM["source"]
    (created,) = history_rows(runtime, "RK-07-01")
    assert created["kind"] == "created" and created["actor"] == "koordination"
    assert "RK-07-01: Vorschlag angelegt." in _page(b.client.get("/proposals/RK-07-01"))


def test_a_refused_form_keeps_what_was_typed_and_says_why_in_german(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    before = _keys(runtime)
    typed = {**FORM, "title": "  ", "cost": "zwölf Euro", "handlungsfeld": "9"}
    refused = b.post("/proposals/new", typed)
    page = _page(refused)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "Bitte einen Titel angeben." in page
    assert "Die Kostenschätzung „zwölf Euro“ ist kein Betrag in Euro" in page
    assert "Bitte ein Handlungsfeld wählen." in page
    # what was typed is still there
    assert ">Sichere Stellplätze\nin Bochum und Herne</textarea>" in page
    assert 'value="zwölf Euro"' in page and f'value="{FORM["source"]}"' in page
    assert '<option value="VM" selected>' in page
    assert re.search(r'value="MULNV" checked', page) and not re.search(r'value="IM" checked', page)
    assert _keys(runtime) == before
    # the lead cannot also participate
    both = _page(b.post("/proposals/new", {**FORM, "participating": ["VM"]}))
    assert "VM ist federführend und kann nicht zugleich beteiligt sein." in both


def test_a_forum_lead_creates_for_its_own_forum_only(app: Flask, runtime: Runtime) -> None:
    b = login(app, "forum-03")
    assert 'value="3"' in b.client.get("/proposals/new").get_data(as_text=True)
    refused = b.post("/proposals/new", FORM)  # Themenforum 7
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Leitung des Themenforums 7" in _page(refused) and "RK-07-01" not in _keys(runtime)
    done = b.post("/proposals/new", {**FORM, "themenforum": "3"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["Location"] == "/proposals/RK-03-06"  # type: ignore[attr-defined]


def test_those_the_definition_does_not_let_create_get_no_form(app: Flask, runtime: Runtime) -> None:
    before = _keys(runtime)
    for actor in ("im", "pruefung"):
        b = login(app, actor)
        page = b.client.get("/proposals/new")
        assert page.status_code == 403 and "keine Vorschläge anlegen" in _page(page)
        assert b.post("/proposals/new", FORM).status_code == 403  # type: ignore[attr-defined]
        assert b.client.get("/proposals/import").status_code == 403
    assert _keys(runtime) == before


def test_a_refused_token_does_nothing_and_keeps_what_was_typed(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    before = _keys(runtime)
    history = history_rows(runtime, "RK-03-05")
    # a form sent with a token the session does not know (expired, a new login elsewhere)
    for path, form, kept in (
        ("/proposals/new", FORM, f'value="{FORM["title"]}"'),
        ("/proposals/RK-03-05/edit", {"title": "Grüne Höfe", "cost": "9,50"}, 'value="9,50"'),
        ("/proposals/import", {"step": "import", "csv": HEADER + ",Eins,4,8,VM,,,,\n"}, "Eins"),
    ):
        refused = b.client.post(path, data={**form, "csrf_token": "abgelaufen"})
        page = _page(refused)
        assert refused.status_code == 400, path
        assert kept in page and "Das Formular war abgelaufen" in page, path
        assert 'name="csrf_token" value="abgelaufen"' not in page
    assert _keys(runtime) == before and history_rows(runtime, "RK-03-05") == history


# --- the CSV upload ----------------------------------------------------------------------

HEADER = "key,title,handlungsfeld,themenforum,lead,participating,cost_estimate,summary,source\n"


def _upload(b: Any, text: str) -> Any:
    return b.client.post(
        "/proposals/import",
        data={"csrf_token": b.csrf, "step": "preview",
              "file": (io.BytesIO(text.encode("utf-8")), "vorschlaege.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip


def test_an_upload_is_previewed_then_imported_all_at_once(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    text = HEADER + (
        'RK-08-01,Wasserstoff-Busse,4,8,VM,MWIDE;MULNV,3000000.50,"Zwei Linien,\nab 2021",Liste\n'
        ",Ganztagsschulen,5,8,MSB,,,,\n"
    )
    before = _keys(runtime)
    # when the file is uploaded, every row is shown and nothing is written
    preview = b.client.post(
        "/proposals/import",
        data={"csrf_token": b.csrf, "step": "preview",
              "file": (io.BytesIO(text.encode("utf-8")), "v.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    page = _page(preview)
    assert preview.status_code == 200, page
    assert "Alle 2 Zeilen sind in Ordnung" in page and "wird vergeben" in page
    assert "3.000.000,50 €" in page and _keys(runtime) == before
    # then confirming imports both, the second with the next free key of forum 8
    csv_value = re.search(r'name="csv" value="([^"]*)"', preview.get_data(as_text=True))
    assert csv_value
    done = b.post(
        "/proposals/import", {"step": "import", "csv": markup.unescape(csv_value.group(1))}
    )
    assert done.status_code == 303, _page(done)  # type: ignore[attr-defined]
    assert _keys(runtime) == before | {"RK-08-01", "RK-08-02"}
    assert show_detail(runtime, "RK-08-01")["summary"] == "Zwei Linien,\nab 2021"
    assert "2 Vorschläge importiert: RK-08-01, RK-08-02." in _page(
        b.client.get(done.headers["Location"])  # type: ignore[attr-defined]
    )


def test_a_file_with_a_bad_row_is_not_imported_and_each_reason_is_german(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    text = HEADER + (
        "RK-08-01,Gut,4,8,VM,,100,,\n"
        "RK-03-01,Schon da,4,3,VM,,,,\n"
        "RK-08-02,Ressort fehlt,4,8,XX,,,,\n"
        "RK-08-01,Doppelt,4,8,VM,,,,\n"
        'RK-08-03,Betrag,4,8,VM,,"1,5",,\n'
    )
    before = _keys(runtime)
    preview = _upload(b, text)
    page = _page(preview)
    assert preview.status_code == 422
    assert "4 von 5 Zeilen sind fehlerhaft" in page
    assert "Einen Vorschlag RK-03-01 gibt es schon." in page
    assert "Ein Ressort „XX“ gibt es nicht." in page
    assert "Der Schlüssel RK-08-01 steht schon in Zeile 2." in page
    assert "Die Kostenschätzung „1,5“ ist kein Betrag in Euro" in page
    assert 'name="step" value="import"' not in page and _keys(runtime) == before
    # a file that is no import file at all
    broken = _upload(b, "title;lead\nx;VM\n")
    assert broken.status_code == 422 and "keine Importdatei" in _page(broken)
    latin = (HEADER + ",Grüne Höfe,4,8,VM,,,,\n").encode("latin-1")
    latin1 = b.client.post(
        "/proposals/import",
        data={"csrf_token": b.csrf, "step": "preview",
              "file": (io.BytesIO(latin), "l.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert latin1.status_code == 422 and "nicht in UTF-8" in _page(latin1)


def test_a_forum_lead_previews_rows_of_another_forum_as_refused(app: Flask) -> None:
    b = login(app, "forum-03")
    page = _page(_upload(b, HEADER + ",Eigenes,4,3,VM,,,,\n,Fremdes,4,8,VM,,,,\n"))
    assert "1 von 2 Zeilen ist fehlerhaft" in page and "Leitung des Themenforums 8" in page


def test_the_import_is_all_or_nothing_when_the_database_changed_since_the_preview(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    text = HEADER + ",Eins,4,8,VM,,,,\nRK-08-05,Zwei,4,8,VM,,,,\n"
    assert _upload(b, text).status_code == 200
    # somebody takes RK-08-05 between the preview and the import
    before = _keys(runtime)
    _add_key(runtime, "RK-08-05")
    refused = b.post("/proposals/import", {"step": "import", "csv": text})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "Nichts wurde importiert." in _page(refused)
    assert _keys(runtime) == before | {"RK-08-05"}


def _add_key(runtime: Runtime, key: str) -> None:
    from workflow.engine.intake import ProposalInput

    item = ProposalInput(key=key, title="Dazwischen", handlungsfeld=4, themenforum=8, lead="VM")
    runtime.engine.create_proposals([item], actor="koordination", now=datetime.now(UTC))


# --- correcting ----------------------------------------------------------------------------


def test_a_coordinator_sets_a_missing_cost_estimate(app: Flask, runtime: Runtime) -> None:
    # given RK-03-05, created without a cost estimate
    b = login(app, "koordination")
    assert show_detail(runtime, "RK-03-05")["cost_estimate"] is None
    form = _page(b.client.get("/proposals/RK-03-05/edit"))
    assert 'value="Grüne Höfe Essen"' in form and 'name="version"' in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    # when the coordinator types a German amount and a comment
    done = b.post("/proposals/RK-03-05/edit", {
        "version": version, "title": "Grüne Höfe Essen", "summary": "", "handlungsfeld": "4",
        "cost": "2.500,00", "comment": "Schätzung des Ressorts nachgetragen",
    })  # fmt: skip
    # then the proposal has it, and one history entry keeps the old and the new value
    assert done.status_code == 303, _page(done)  # type: ignore[attr-defined]
    assert Decimal(str(show_detail(runtime, "RK-03-05")["cost_estimate"])) == Decimal("2500")
    entry = history_rows(runtime, "RK-03-05")[-1]
    assert entry["kind"] == "edit" and entry["comment"] == "Schätzung des Ressorts nachgetragen"
    assert entry["data"]["changes"] == {"cost_estimate": {"old": None, "new": "2500.00"}}
    page = _page(b.client.get("/proposals/RK-03-05"))
    assert "Angaben korrigiert (Kostenschätzung; Eintrag" in page


def test_a_correction_refused_keeps_the_input(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    version = str(show_detail(runtime, "RK-05-02")["version"])
    base = {"version": version, "title": "Kulturpfad Emscher", "summary": "", "handlungsfeld": "1",
            "cost": "50.000,00", "participating": []}  # fmt: skip
    # nothing changed
    same = b.post("/proposals/RK-05-02/edit", base)
    assert same.status_code == 422 and "Es wurde nichts geändert." in _page(same)  # type: ignore[attr-defined]
    # an empty title: the rest of what was typed stays
    empty = b.post("/proposals/RK-05-02/edit", {**base, "title": "", "summary": "Neu"})
    page = _page(empty)
    assert empty.status_code == 422 and "Bitte einen Titel angeben." in page  # type: ignore[attr-defined]
    assert ">Neu</textarea>" in page
    # somebody else corrected it meanwhile: refused, the typed values kept
    runtime.engine.edit_proposal(
        "RK-05-02", {"summary": "von anderer Seite"}, actor="koordination", now=datetime.now(UTC)
    )
    stale = b.post("/proposals/RK-05-02/edit", {**base, "title": "Kulturpfad"})
    page = _page(stale)
    assert stale.status_code == 409 and "inzwischen geändert" in page  # type: ignore[attr-defined]
    assert 'value="Kulturpfad"' in page
    assert show_detail(runtime, "RK-05-02")["title"] == "Kulturpfad Emscher"


def test_only_those_the_definition_lets_edit_get_the_form(app: Flask, runtime: Runtime) -> None:
    before = history_rows(runtime, "RK-03-05")
    for actor in ("forum-03", "im", "pruefung"):
        b = login(app, actor)
        page = b.client.get("/proposals/RK-03-05/edit")
        assert page.status_code == 403, actor
        assert "Sie dürfen die Angaben dieses Vorschlags nicht korrigieren." in _page(page)
        refused = b.post("/proposals/RK-03-05/edit", {"title": "Anders", "handlungsfeld": "4"})
        assert refused.status_code == 403  # type: ignore[attr-defined]
    assert history_rows(runtime, "RK-03-05") == before
    assert login(app, "koordination").client.get("/proposals/RK-99-99/edit").status_code == 404


def test_the_api_creates_with_a_source_as_its_openapi_document_says(
    app: Flask, runtime: Runtime
) -> None:
    from workflow.access.accounts import create_token

    _, token = create_token(runtime.store, "koordination", datetime.now(UTC), expires_in=None)
    client = app.test_client()
    schema = client.get("/api/openapi.json").get_json()
    body = schema["paths"]["/api/proposals"]["post"]["requestBody"]["content"]
    assert "source" in body["application/json"]["schema"]["properties"]
    created = client.post(
        "/api/proposals",
        json={"title": "Wasserstoff-Busse", "handlungsfeld": 4, "themenforum": 8, "lead": "VM",
              "cost": "3000000.50", "source": "Protokoll Themenforum 8"},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert created.status_code == 201 and created.get_json() == {"key": "RK-08-01"}
    p = show_detail(runtime, "RK-08-01")
    assert p["data"]["source"] == "Protokoll Themenforum 8"
    assert Decimal(str(p["cost_estimate"])) == Decimal("3000000.50")
