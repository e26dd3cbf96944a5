"""The audit page's entries (#27.7): newest first, a page at a time (links, no JavaScript), and
an action filter in German — transitions by their labels, rungs by their names, other entries
by their kinds, notices by theirs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.deadlines.sweep import sweep
from workflow.engine.intake import ProposalInput

SHOWN = 50


def _rows(page: str) -> list[str]:
    """The rows of the entries' table, as text."""
    table = page.split('aria-label="Einträge der Historie"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows if "<td" in r]


def _more_proposals(runtime: Runtime, count: int) -> None:
    now = datetime.now(UTC)
    items = [
        ProposalInput(title=f"Sammeltest {i}", handlungsfeld=2, themenforum=5, lead="VM")
        for i in range(count)
    ]
    runtime.engine.create_proposals(items, actor="koordination", now=now)


def test_the_newest_entry_comes_first(app: Flask, runtime: Runtime) -> None:
    # Given an entry made after all the others
    runtime.engine.advance(
        "RK-03-03", "withdraw", actor="koordination", now=datetime.now(UTC) + timedelta(minutes=5),
        fields={"reason": "Zuletzt zurückgezogen"},
    )  # fmt: skip
    page = login(app, "pruefung").client.get("/audit").get_data(as_text=True)
    # then the first row is that entry, labelled in German
    first = _rows(page)[0]
    assert "RK-03-03" in first and "Vorschlag zurückziehen" in first, first
    assert "withdraw" not in first


def test_pages_of_fifty_linked_without_javascript(app: Flask, runtime: Runtime) -> None:
    # Given more entries than a page shows
    _more_proposals(runtime, SHOWN + 10)
    b = login(app, "pruefung")
    first = b.client.get("/audit").get_data(as_text=True)
    assert len(_rows(first)) == SHOWN
    # then a plain link leads to the older entries, and from there back
    older = re.search(r'<a href="([^"]+)" rel="next">Ältere Einträge</a>', first)
    assert older, "no link to the older entries"
    assert "Neuere Einträge" not in first
    second = b.client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    rows = _rows(second)
    assert rows and not set(rows) & set(_rows(first))
    assert 'rel="prev">Neuere Einträge</a>' in second
    assert "Seite 2" in second


def test_the_page_number_is_a_plain_number_or_the_first_page(app: Flask) -> None:
    b = login(app, "pruefung")
    for bad in ("0", "-1", "zwei", "٣", "99999999999999999999"):
        response = b.client.get(f"/audit?page={bad}")
        assert response.status_code == 200, bad


def test_the_action_filter_offers_german_labels(app: Flask) -> None:
    page = login(app, "pruefung").client.get("/audit").get_data(as_text=True)
    select = page.split('<select id="action" name="action">', 1)[1].split("</select>", 1)[0]
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select))
    assert options["approve"] == "Kabinettbeschluss (Umsetzung)"
    assert options["consultation.remind-7d"] == (
        "Erinnerung 7 Tage vor Fristende: Ende der Beteiligung von Kommunen, Kammern und Verbänden"
    )
    assert options["kind:created"] == "Angelegt"
    assert options["kind:notice_sent"] == "Mitteilung versandt"
    assert options.pop("") == "alle"
    assert not any(re.fullmatch(r"[a-z_.0-9-]+", label) for label in options.values())


def test_filtering_by_a_transition_a_kind_and_a_rung(app: Flask, runtime: Runtime) -> None:
    # Given reminders of the consultation deadline of RK-03-03 (opened now, due in 21 days)
    later = datetime.now(UTC) + timedelta(days=30)
    sweep(runtime.store, runtime.machines, runtime.engine.append_event, later)
    b = login(app, "pruefung")
    # a transition
    rows = _rows(b.client.get("/audit?action=submit").get_data(as_text=True))
    assert rows and all("Vorschlag einreichen" in r for r in rows)
    # a kind of entry
    rows = _rows(b.client.get("/audit?action=kind:created").get_data(as_text=True))
    assert rows and all("Angelegt" in r for r in rows)
    # a rung, named in German on the page
    page = b.client.get("/audit?action=consultation.escalate-2wd").get_data(as_text=True)
    rows = _rows(page)
    assert rows and all("Eskalation 2 Arbeitstage nach Fristende" in r for r in rows), rows
    assert "escalate-2wd" not in " ".join(rows)
    # the chosen action stays selected, so the next page keeps the filter
    assert '<option value="consultation.escalate-2wd" selected>' in page
    # an action no entry has: none shown, said in German
    page = b.client.get("/audit?action=gibtsnicht").get_data(as_text=True)
    assert "Keine Einträge" in page


def test_entries_are_labelled_by_what_they_record() -> None:
    from pathlib import Path

    from workflow.process.definition import load_definition
    from workflow.web.pages import action_label

    shipped = load_definition(
        Path(__file__).resolve().parents[2] / "definitions" / "ruhr_konferenz.yaml"
    )
    notice = {"kind": "notice_sent", "trigger": "deliver", "data": {"kind": "status_change"}}
    assert action_label(shipped, notice) == "Mitteilung versandt (Statusänderung)"
    skipped = {"kind": "rung_skipped", "trigger": "forum_submission.remind-1d", "data": {}}
    assert action_label(shipped, skipped) == (
        "Entfallen: Erinnerung 1 Tag vor Fristende: Einreichung der Vorschläge durch die"
        " Themenforen"
    )
    escalation = {"kind": "escalation", "trigger": "consultation.escalate-2wd", "data": {}}
    assert action_label(shipped, escalation).startswith("Eskalation 2 Arbeitstage nach")
    assert action_label(shipped, {"kind": "created", "trigger": "create"}) == "Angelegt"
    assert action_label(shipped, {"kind": "transition", "trigger": "submit"}) == (
        "Vorschlag einreichen"
    )


def test_the_export_for_excel_is_the_clis_and_verifies(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    from support import Cli

    b = login(app, "pruefung")
    page = b.client.get("/audit").get_data(as_text=True)
    assert 'href="/audit/export?format=csv&amp;excel=1">CSV für Excel</a>' in page
    response = b.client.get("/audit/export?format=csv&excel=1")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff") and ";" in text.split("\n", 1)[0]
    exported = tmp_path / "historie.csv"
    exported.write_text(text, encoding="utf-8")
    verified = Cli(database_url)("audit", "verify", "--file", str(exported), actor=None)
    assert "ok" in verified.output.lower()
