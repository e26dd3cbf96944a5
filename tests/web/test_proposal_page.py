"""The proposal page's phase timeline and its deadlines' rungs (issue 14: "state and phase
timeline", "open deadlines with their rungs")."""

from __future__ import annotations

import re

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.deadlines.queries import open_rungs_of


def _section(html: str, heading_id: str) -> str:
    found = re.search(rf'<h2 id="{heading_id}">.*?</section>', html, flags=re.DOTALL)
    assert found, heading_id
    return found.group(0)


def test_the_page_shows_the_phases_and_the_states_entered(app: Flask) -> None:
    b = login(app, "koordination")
    html = b.client.get("/proposals/RK-03-02").get_data(as_text=True)
    timeline = _section(html, "verlauf")
    # in implementation: "Handeln" is the current phase, the two before it are done
    assert '<li aria-current="step" class="current">Handeln (aktuell)</li>' in timeline
    assert "Zuhören (abgeschlossen)" in timeline and "Entscheiden (abgeschlossen)" in timeline
    # every state it entered, in order, from the history
    entered = re.findall(r"</span>: ([^<]+)</li>", timeline)
    assert entered == [
        "Idee im Themenforum",
        "Vorschlag eingereicht",
        "Finanzierung gesichert",
        "In Umsetzung",
    ]


def test_open_deadlines_list_their_rungs_with_their_status(app: Flask, runtime: Runtime) -> None:
    # given RK-03-02 in implementation, whose progress report deadline has rungs
    rungs = open_rungs_of(runtime.store, "RK-03-02")
    assert rungs, "the fixture's proposal in implementation has an open deadline"
    ((kind, _period), steps), *_ = rungs.items()
    assert kind == "progress_report" and steps
    b = login(app, "im")
    html = b.client.get("/proposals/RK-03-02").get_data(as_text=True)
    deadlines = _section(html, "fristen")
    # then each rung is listed under the deadline: what it is, when, and that it is pending
    from workflow.process.german import rung_words

    for step in steps:
        assert f"{rung_words(step['rung'])}: " in deadlines  # in German, not remind-7d
    assert "Erinnerung 7 Tage vor Fristende" in deadlines and "ausstehend" in deadlines
    # and a proposal without open deadlines lists none
    assert open_rungs_of(runtime.store, "RK-05-02") == {}


def test_the_page_tells_what_was_decided_and_reported(app: Flask, runtime: Runtime) -> None:
    # given IM's progress report on RK-03-02, decided by the cabinet
    from datetime import UTC, datetime

    runtime.engine.advance("RK-03-02", "report_progress", actor="im", now=datetime.now(UTC),
                           fields={"progress": 40}, comment="Ausschreibung läuft")  # fmt: skip
    html = login(app, "koordination").client.get("/proposals/RK-03-02").get_data(as_text=True)
    facts = html.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    # then the decision date (German), the reported progress with a bar and its date, the
    # Handlungsfeld's name and the process version — not the row counter "Version"
    assert "<dt>Kabinettbeschluss</dt><dd>05.11.2019</dd>" in facts, facts
    assert '<progress max="100" value="40"' in facts and "40 %, gemeldet am" in facts
    assert re.search(r"<dt>Handlungsfeld</dt><dd>\d – [A-ZÄÖÜ]", facts), facts
    assert "<dt>Prozessversion</dt><dd>3</dd>" in facts and "<dt>Version</dt>" not in facts


def test_the_history_and_the_notices_speak_german(app: Flask) -> None:
    html = login(app, "koordination").client.get("/proposals/RK-03-02").get_data(as_text=True)
    history = _section(html, "historie")
    notices = _section(html, "mitteilungen")
    # the steps by their labels, events by what they record; the notices by their German kind
    assert "Vorschlag einreichen" in history and "Angelegt" in history
    assert "Finanzierung erfasst" in history
    assert "Statusänderung" in notices
    for developer_word in ("<td>submit</td>", "<td>admit</td>", "<td>create</td>",
                           "status_change", "add_funding"):  # fmt: skip
        assert developer_word not in history + notices, developer_word
