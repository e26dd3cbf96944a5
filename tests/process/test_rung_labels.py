"""Rung names in German (#27.1): the history records a fired rung as ``consultation.remind-7d``;
people read what it was, when and of which deadline."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.process.definition import load_definition
from workflow.process.german import rung_label, rung_words

SHIPPED = load_definition(
    Path(__file__).resolve().parents[2] / "definitions" / "ruhr_konferenz.yaml"
)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("remind-7d", "7 Tage vor Fristende"),
        ("remind-1d", "1 Tag vor Fristende"),
        ("escalate-2wd", "2 Arbeitstage nach Fristende"),
        ("escalate-1wd", "1 Arbeitstag nach Fristende"),
        ("remind-1w", "1 Woche vor Fristende"),
        ("escalate-3mo", "3 Monate nach Fristende"),
        ("unbekannt", "unbekannt"),  # a name of no known shape stays as it is
    ],
)
def test_rung_words(name: str, words: str) -> None:
    assert rung_words(name) == words


def test_a_rung_is_named_by_its_kind_its_moment_and_its_deadline() -> None:
    assert rung_label("Quartalsbericht", "escalate-5wd") == (
        "Eskalation 5 Arbeitstage nach Fristende: Quartalsbericht"
    )
    assert SHIPPED.trigger_label("consultation.remind-7d") == (
        "Erinnerung 7 Tage vor Fristende: Ende der Beteiligung von Kommunen, Kammern und Verbänden"
    )


def test_a_rung_this_version_no_longer_has_is_still_named_by_its_deadline() -> None:
    # the history of a proposal keeps the rungs of the version it ran on
    assert SHIPPED.trigger_label("consultation.remind-3d").startswith(
        "Erinnerung 3 Tage vor Fristende: Ende der Beteiligung"
    )


def test_transitions_keep_their_labels_and_unknown_triggers_stay_ids() -> None:
    assert SHIPPED.trigger_label("approve") == "Kabinettbeschluss (Umsetzung)"
    assert SHIPPED.trigger_label("gone.remind-7d") == "gone.remind-7d"
    assert SHIPPED.trigger_label("gone") == "gone"


def test_action_labels_name_every_transition_and_every_rung_in_german() -> None:
    labels = SHIPPED.action_labels()
    assert {t.trigger for t in SHIPPED.transitions} < set(labels)
    rungs = {f"{r.kind}.{g.name}" for r in SHIPPED.deadline_rules for g in r.rungs}
    assert rungs < set(labels)
    assert not any("remind-" in label or "escalate-" in label for label in labels.values())
