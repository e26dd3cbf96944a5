"""A proposal's page and forms come from its registered definition version (issue 28.5): the
web took its definition from the file, and a field that exists only in the proposal's
registered version was silently dropped from the form."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from support import SHIPPED_DEFINITION, Cli
from web_fixtures import login

from workflow.app.reads import show_detail
from workflow.app.runtime import Runtime

FIELD = """  forum_vote:
    type: text
    label: Votum des Themenforums
"""


def _version_2_of_submit(base: Path) -> Path:
    """The shipped definition as its next version, in which ``submit`` asks for a field that
    the file the web application was started with does not know."""
    text = SHIPPED_DEFINITION.read_text(encoding="utf-8")
    assert "version: 3\n" in text and "fields:\n" in text
    text = text.replace("version: 3\n", "version: 4\n", 1)
    text = text.replace("fields:\n", "fields:\n" + FIELD, 1)
    submit = (
        "  - trigger: submit\n    label: Vorschlag einreichen\n    from: idea\n    to: proposed\n"
    )
    assert submit in text
    text = text.replace(submit, submit + "    requires: [forum_vote]\n", 1)
    path = base / "ruhr_konferenz_next.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_newer_versions_form_asks_for_its_own_field(
    app: Flask, runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    # given the next version registered, with a field of its own that `submit` requires,
    # and a proposal created on it (the application still runs with the older file)
    run = Cli(database_url)
    run("init", "--definition", str(_version_2_of_submit(tmp_path)), actor=None)
    run("proposal", "add", "--key", "RK-03-22", "--title", "Neues Vorhaben (Testdaten)",
        "--handlungsfeld", "3", "--forum", "3", "--lead", "IM")  # fmt: skip
    assert show_detail(runtime, "RK-03-22")["definition_version"] == 4
    b = login(app, "koordination")
    # when the coordinator opens the proposal's page and the form of `submit`
    page = b.client.get("/proposals/RK-03-22").get_data(as_text=True)
    form = b.client.get("/proposals/RK-03-22/actions/submit")
    html = form.get_data(as_text=True)
    # then the form is that of the registered version: it asks for the field by its label
    assert form.status_code == 200
    assert 'name="field_forum_vote"' in html and "Votum des Themenforums" in html
    assert "Votum des Themenforums" in page  # the page says what submitting asks for
    # and with the field given, the review finds nothing missing and the submit goes through
    fields = {"field_forum_vote": "einstimmig"}
    review = b.post("/proposals/RK-03-22/actions/submit", {**fields, "step": "review"})
    assert review.status_code == 200 and "einstimmig" in review.get_data(as_text=True)
    done = b.post(
        "/proposals/RK-03-22/actions/submit",
        {**fields, "step": "confirm", "expected_version": "1"},
    )
    assert done.status_code == 303
    detail = show_detail(runtime, "RK-03-22")
    assert detail["state"] == "proposed" and detail["data"]["forum_vote"] == "einstimmig"


def test_a_proposal_of_the_files_version_keeps_its_form(app: Flask) -> None:
    # given a proposal on the version the file describes: its form is unchanged
    b = login(app, "koordination")
    html = b.client.get("/proposals/RK-03-01").get_data(as_text=True)
    assert "Votum des Themenforums" not in html
