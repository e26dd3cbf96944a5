"""Every template renders for every event of the shipped definition (StrictUndefined).

Each trigger's status change (from each of its source states), a reminder and an escalation
for each deadline rule, the consultation notice and the digest — with the contexts the
outbox builds, so a context field missing for one event fails here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import DEFINITION, NOW, REPO

from notifications import Renderer
from workflow.access.directory import load_directory
from workflow.notices.context import (
    OpenDeadline,
    consultation_context,
    proposal_context,
    rung_context,
    status_change_context,
)
from workflow.process.deadline_rules import ESCALATION, REMINDER, rules_of
from workflow.process.definition import load_definition
from workflow.process.german import FILTERS

definition = load_definition(DEFINITION)
directory = load_directory(REPO / "config" / "directory.toml")
renderer = Renderer(formatting=FILTERS)
TRANSITIONS = [(t.trigger, source, t.dest) for t in definition.transitions for source in t.sources]
RULES = rules_of(definition)
FIELD_VALUES = {"decision_date": "2019-11-05", "reason": "Zeile 1\nZeile 2", "progress": 50,
                "cabinet_session": "2019-11-05"}  # fmt: skip


def row(state: str) -> dict[str, Any]:
    return {
        "key": "RK-03-01", "title": "Titel mit {{ jinja }} & <b>", "state": state,
        "handlungsfeld": 3, "themenforum": 3, "lead": "IM", "participating": ["VM"],
    }  # fmt: skip


def deadline(kind: str, label: str) -> OpenDeadline:
    return OpenDeadline(7, kind, label, NOW + timedelta(days=10), 1)


@pytest.mark.parametrize(("trigger", "source", "dest"), TRANSITIONS)
def test_status_change_renders_for_every_transition(trigger: str, source: str, dest: str) -> None:
    transition = definition.transition(trigger, source)
    assert transition is not None
    fields = {name: FIELD_VALUES[name] for name in transition.requires if name in FIELD_VALUES}
    current = [deadline(r.kind, r.label) for r in RULES if r.state == dest]
    context = status_change_context(
        proposal=proposal_context(row(dest), definition, directory),
        definition=definition, directory=directory, trigger=trigger, from_state=source,
        to_state=dest, actor="koordination", at=NOW, comment="Kommentar", fields=fields,
        deadlines_open=current,
    )  # fmt: skip
    rendered = renderer.render("status_change", context)
    assert definition.state_label(dest) in rendered.subject
    assert transition.label in rendered.text and definition.state_label(source) in rendered.text
    for d in current:
        assert d.label in rendered.text
    if "decision_date" in fields:
        assert "Datum des Beschlusses: 05.11.2019" in rendered.text


@pytest.mark.parametrize("kind", [REMINDER, ESCALATION])
@pytest.mark.parametrize("rule", RULES, ids=[r.kind for r in RULES])
def test_reminder_and_escalation_render_for_every_deadline_rung(rule: Any, kind: str) -> None:
    rungs = [r for r in rule.rungs if r.kind == kind]
    assert rungs, f"{rule.kind} has no {kind} rung"
    for rung in rungs:
        at = NOW + (timedelta(days=3) if kind == REMINDER else timedelta(days=14))
        context = rung_context(
            proposal=proposal_context(row(rule.state), definition, directory),
            deadline=deadline(rule.kind, rule.label), kind=kind, rung=rung.name, now=at,
        )  # fmt: skip
        rendered = renderer.render(kind, context)
        assert rule.label in rendered.subject and "Fristende" in rendered.text
        assert "&lt;b&gt;" in rendered.html


def test_consultation_opened_renders() -> None:
    (rule,) = [r for r in RULES if r.kind == "consultation"]
    context = consultation_context(
        proposal=proposal_context(row("consultation"), definition, directory),
        deadline=deadline(rule.kind, rule.label),
    )
    rendered = renderer.render("consultation_opened", context)
    assert "Beteiligung eröffnet" in rendered.subject and "Kommunen" in rendered.text


def test_contexts_of_one_command_share_equal_parts_and_only_equal_ones() -> None:
    # a bulk advance builds the transition, next steps and deadlines once (shared memo);
    # each context is the one built without it, and a value of another type is not shared
    def build(fields: dict[str, Any], key: str, shared: dict[Any, Any] | None) -> Any:
        r = {**row("implementation"), "key": key}
        return status_change_context(
            proposal=proposal_context(r, definition, directory), definition=definition,
            directory=directory, trigger="report_progress", from_state="implementation",
            to_state="implementation", actor="im", at=NOW, comment=None, fields=fields,
            deadlines_open=[deadline("progress_report", "Bericht")], shared=shared,
        )  # fmt: skip

    shared: dict[Any, Any] = {}
    a = build({"progress": 1}, "RK-03-01", shared)
    b = build({"progress": 1}, "RK-03-02", shared)
    c = build({"progress": True}, "RK-03-03", shared)
    assert a == build({"progress": 1}, "RK-03-01", None)
    assert b == build({"progress": 1}, "RK-03-02", None)
    assert a["transition"] is b["transition"] and a["deadlines"] is b["deadlines"]
    assert a["proposal"] is not b["proposal"] and a["proposal"]["key"] != b["proposal"]["key"]
    assert c["transition"] is not a["transition"]
    assert c["transition"]["fields"] == {"Umsetzungsstand in Prozent": True}
    assert type(c["transition"]["fields"]["Umsetzungsstand in Prozent"]) is bool
