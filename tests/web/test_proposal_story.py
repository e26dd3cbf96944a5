"""The proposal page tells the story (#27.4): the values each step recorded in the history
(a transition's fields, an edit's old → new), the mail delivery collapsed apart from what was
done, the notices a page at a time, and the statement, funding and document forms next to the
actions — near the top, not under a long history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from support import delivery_of
from web_fixtures import login

from notifications.mail.transport import MemoryTransport
from workflow import Runtime
from workflow.notices.delivery import deliver
from workflow.process.definition import load_definition
from workflow.web.proposals.page import entry_details


def _history_rows(page: str) -> list[str]:
    table = page.split('aria-label="Tabelle der Historie"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows if "<td" in r]


def test_the_history_shows_what_a_step_set_and_what_an_edit_changed(
    app: Flask, runtime: Runtime
) -> None:
    # Given a proposal admitted with its decision date, then its cost estimate corrected
    runtime.engine.edit_proposal(
        "RK-03-02", {"cost_estimate": "2500000"}, actor="koordination", now=datetime.now(UTC),
        comment="Neue Schätzung des Ressorts",
    )  # fmt: skip
    page = login(app, "koordination").client.get("/proposals/RK-03-02").get_data(as_text=True)
    rows = _history_rows(page)
    admitted = next(r for r in rows if "Nachträgliche Aufnahme" in r)
    assert "Datum des Beschlusses: 05.11.2019" in admitted
    edited = next(r for r in rows if "Angaben korrigiert" in r)
    assert "Kostenschätzung: 500.000 € → 2.500.000 €" in edited
    assert "Neue Schätzung des Ressorts" in edited
    assert "cost_estimate" not in page and "decision_date" not in " ".join(rows)


def test_details_of_every_kind_of_value() -> None:
    from conftest import DEFINITION

    definition = load_definition(DEFINITION)
    progress = {"kind": "transition", "data": {"fields": {"progress": 40, "reason": "Text"}}}
    assert entry_details(definition, progress) == [
        "Umsetzungsstand in Prozent: 40",
        "Begründung: Text",
    ]
    edit = {
        "kind": "edit",
        "data": {
            "changes": {
                "participating": {"old": [], "new": ["VM", "MWIDE"]},
                "handlungsfeld": {"old": 1, "new": 3},
                "summary": {"old": "", "new": "Kurz"},
                "cost_estimate": {"old": None, "new": "1250.50"},
            }
        },
    }
    assert entry_details(definition, edit) == [
        "Beteiligte Ressorts: – → VM, MWIDE",
        f"Handlungsfeld: 1 – {definition.handlungsfelder[1]} → 3 – {definition.handlungsfelder[3]}",
        "Kurzbeschreibung: – → Kurz",
        "Kostenschätzung: – → 1.250,50 €",
    ]
    assert entry_details(definition, {"kind": "created", "data": {}}) == []
    odd = {"kind": "transition", "data": {"fields": {"decision_date": "5.11.2019"}}}
    assert entry_details(definition, odd) == ["Datum des Beschlusses: 5.11.2019"]


def test_the_delivery_is_collapsed_and_the_notices_come_a_page_at_a_time(
    app: Flask, runtime: Runtime
) -> None:
    # Given twelve progress reports on RK-03-02, each a notice, all delivered
    now = datetime.now(UTC)
    for i in range(12):
        at = now + timedelta(minutes=i)
        runtime.engine.advance("RK-03-02", "report_progress", actor="im", now=at,
                               fields={"progress": 10 + i})  # fmt: skip
    deliver(delivery_of(runtime), MemoryTransport(), now + timedelta(hours=1))
    b = login(app, "koordination")
    page = b.client.get("/proposals/RK-03-02").get_data(as_text=True)
    # then the delivery entries are not rows of the history, but one collapsed summary
    rows = _history_rows(page)
    assert not any("Mitteilung versandt" in r for r in rows)
    details = re.search(r"<details>\s*<summary>Zustellung der Mitteilungen: (\d+) Einträge", page)
    assert details and int(details.group(1)) >= 12
    assert "Mitteilung versandt (Statusänderung)" in page.split("<details>", 1)[1]
    # and the notices come ten at a time, with plain links to the older ones
    notices = page.split('aria-label="Tabelle der Mitteilungen"', 1)[1].split("</table>", 1)[0]
    assert notices.count("<tr>") == 1 + 10  # the head and ten notices
    older = re.search(r'<a href="([^"]+)" rel="next">Ältere Mitteilungen</a>', page)
    assert older
    second = b.client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Seite 2 von" in second and 'rel="prev">Neuere Mitteilungen</a>' in second
    # a page that is no number is the first
    assert b.client.get("/proposals/RK-03-02?mitteilungen=x").status_code == 200


def test_statements_funding_and_documents_are_offered_next_to_the_actions(app: Flask) -> None:
    page = login(app, "koordination").client.get("/proposals/RK-03-03").get_data(as_text=True)
    actions = page.index('id="aktionen"')
    history = page.index('id="historie"')
    for link in ("Stellungnahme erfassen", "Finanzierung erfassen", "Dokument anhängen"):
        assert page.count(f">{link}</a>") == 1, link
        assert actions < page.index(f">{link}</a>") < history, link


def test_the_open_deadlines_name_their_rungs_in_german(app: Flask) -> None:
    # RK-03-03 is in the consultation: its deadline has two reminders and an escalation
    page = login(app, "koordination").client.get("/proposals/RK-03-03").get_data(as_text=True)
    deadlines = page.split('id="fristen"', 1)[1].split("</section>", 1)[0]
    assert "Erinnerung 7 Tage vor Fristende:" in deadlines
    assert "Eskalation 2 Arbeitstage nach Fristende:" in deadlines
    assert "remind-" not in deadlines and "escalate-" not in deadlines
