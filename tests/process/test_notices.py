"""Notices declared in the definition (#16): the loader and linter, and the routing rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.errors import InvalidDefinition
from workflow.process.definition import load_definition, parse_definition
from workflow.process.notices import ROUTING_BEFORE_DECLARED, event_routing, transition_routing

SHIPPED = Path(__file__).resolve().parents[2] / "definitions" / "ruhr_konferenz.yaml"
TEXT = SHIPPED.read_text(encoding="utf-8")


def with_notices(notices: str) -> str:
    """The shipped definition with its notices section replaced by ``notices``."""
    start = TEXT.index("\nnotices:\n") + 1
    return TEXT[:start] + notices


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, "v.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_shipped_definition_declares_the_routing_version_2_had_in_code() -> None:
    # Given the shipped definition, when every transition and rung is routed, then the notices
    # are those the code sent before they were declared (same templates, same roles)
    d = load_definition(SHIPPED)
    assert d.notices != ROUTING_BEFORE_DECLARED  # declared, not the fallback
    for t in d.transitions:
        for source in t.sources:
            assert transition_routing(d.notices, t.trigger, source, t.dest) == (
                transition_routing(ROUTING_BEFORE_DECLARED, t.trigger, source, t.dest)
            ), t.trigger
    for event in ("reminder", "escalation", "digest"):
        assert event_routing(d.notices, event) == event_routing(ROUTING_BEFORE_DECLARED, event)
    assert transition_routing(d.notices, "report_progress", "implementation", "implementation") == [
        ("status_change", ("lead_ministry", "coordinator"))
    ]
    assert transition_routing(d.notices, "open_consultation", "proposed", "consultation") == [
        ("status_change", ("lead_ministry", "ministry")),
        ("consultation_opened", ("coordinator",)),
    ]


def test_a_definition_without_notices_keeps_the_routing_of_version_2() -> None:
    d = parse_definition(with_notices("notices: {}\n"), "v2.yaml")
    assert d.notices == ROUTING_BEFORE_DECLARED


def test_rules_with_one_template_are_one_notice_to_all_their_roles() -> None:
    d = parse_definition(
        with_notices(
            "notices:\n"
            "  - {event: transition, template: status_change, to: [lead_ministry]}\n"
            "  - {event: enter, state: cabinet, template: status_change, to: [coordinator]}\n"
        ),
        "v.yaml",
    )
    assert transition_routing(d.notices, "submit_to_cabinet", "ministry_review", "cabinet") == [
        ("status_change", ("lead_ministry", "coordinator"))
    ]
    assert event_routing(d.notices, "reminder") is None  # nobody is told


@pytest.mark.parametrize(
    ("notices", "expected"),
    [
        ("  - {event: transition, template: statuswechsel, to: [lead_ministry]}\n",
         "v.yaml:{line}: notices[0].template: unknown template 'statuswechsel'"),
        ("  - {event: transition, template: status_change, to: [minister]}\n",
         "v.yaml:{line}: notices[0].to: unknown role 'minister'"),
        ("  - {event: transition, template: status_change, to: [auditor]}\n",
         "v.yaml:{line}: notices[0].to: role 'auditor' has no address"),
        ("  - {event: reminder, template: status_change, to: [lead_ministry]}\n",
         "v.yaml:{line}: notices[0].template: template 'status_change' is not for a reminder"),
        ("  - {event: transition, trigger: approv, template: status_change, to: [coordinator]}\n",
         "v.yaml:{line}: notices[0].trigger: unknown trigger 'approv'"),
        ("  - {event: enter, state: kabinett, template: status_change, to: [coordinator]}\n",
         "v.yaml:{line}: notices[0].state: unknown state 'kabinett'"),
        ("  - {event: tick, template: reminder, to: [coordinator]}\n",
         "v.yaml:{line}: notices[0].event: unknown event 'tick'"),
        ("  - {event: digest, template: digest, to: [coordinator]}\n",
         "v.yaml:{line}: notices[0].to: a digest goes to the lead ministry"),
        ("  - {event: transition, template: status_change, to: [], when: always}\n",
         "v.yaml:{line}: notices[0].when: unknown key"),
    ],
)  # fmt: skip
def test_the_linter_names_file_line_and_key_of_a_wrong_notice(notices: str, expected: str) -> None:
    # Given a notice with a wrong template, role, trigger, state or event
    text = with_notices("notices:\n" + notices)
    line = text.count("\n", 0, text.index("notices:\n")) + 2
    # when it is loaded, then the problem names the file, the line and the key
    found = problems(text)
    assert any(p.startswith(expected.format(line=line)) for p in found), found
