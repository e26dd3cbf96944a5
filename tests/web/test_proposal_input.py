"""The checks of a typed proposal (the create and correction forms, an import's rows): German
reasons that name the field, the engine's limits, German amounts read as they are meant."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.access.directory import Actor, load_directory
from workflow.process.definition import load_definition
from workflow.process.german import euro
from workflow.web.proposal_input import (
    Typed,
    check,
    create_refusal,
    german_amount,
    may_create,
)

REPO = Path(__file__).resolve().parents[2]
DEFINITION = load_definition(REPO / "definitions" / "ruhr_konferenz.yaml")
DIRECTORY = load_directory(REPO / "config" / "directory.toml")
GOOD = Typed(title="Radschnellweg", handlungsfeld="1", themenforum="3", lead="VM", cost="")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("250000", "250000"),
        ("250.000", "250000"),  # the dot groups thousands
        ("1.250.000,50", "1250000.50"),
        ("250000,5", "250000.5"),
        ("250000.50", "250000.50"),  # one dot and two decimals: a decimal point
        (" 2.500 € ", "2500"),
    ],
)
def test_a_german_amount_is_read_as_meant(typed: str, meant: str) -> None:
    assert german_amount(typed) == meant


@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False))
def test_an_amount_shown_in_german_reads_back_as_itself(amount: Decimal) -> None:
    shown = euro(amount).removesuffix(" €")
    assert Decimal(german_amount(shown)) == amount


def test_a_good_proposal_passes_normalised() -> None:
    item, errors = check(
        Typed(**{**GOOD.__dict__, "participating": ["IM", "IM", " MWIDE "], "cost": "2.500,00"}),
        DEFINITION,
        DIRECTORY,
    )
    assert errors == [] and item is not None
    assert item.participating == ("IM", "MWIDE") and item.cost_estimate == Decimal("2500.00")
    assert (item.handlungsfeld, item.themenforum, item.source) == (1, 3, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": "\u200b"}, "Bitte einen Titel angeben."),
        ({"title": "x" * 301}, "Der Titel ist zu lang (höchstens 300 Zeichen)"),
        ({"title": "Zeile\nbruch"}, "Der Titel ist zu lang (höchstens 300 Zeichen) oder enthält"),
        ({"handlungsfeld": "6"}, "Bitte ein Handlungsfeld wählen."),
        ({"handlungsfeld": "٣"}, "Bitte ein Handlungsfeld wählen."),
        ({"themenforum": "100"}, "Das Themenforum ist eine Zahl von 1 bis 99."),
        ({"lead": ""}, "Bitte das federführende Ressort wählen."),
        ({"lead": "XX"}, "Ein Ressort „XX“ gibt es nicht."),
        ({"participating": ["VM"]}, "VM ist federführend und kann nicht zugleich beteiligt sein."),
        ({"participating": ["YY"]}, "Ein beteiligtes Ressort „YY“ gibt es nicht."),
        ({"cost": "-5"}, "Die Kostenschätzung „-5“ ist kein Betrag in Euro"),
        ({"cost": "1,001"}, "Die Kostenschätzung „1,001“ ist kein Betrag in Euro"),
        ({"cost": "9" * 20}, "ist kein Betrag in Euro"),
        ({"key": "rk-3"}, "Der Schlüssel „rk-3“ hat nicht die Form RK-03-01."),
    ],
)
def test_each_problem_is_named_in_german(change: dict[str, object], reason: str) -> None:
    item, errors = check(Typed(**{**GOOD.__dict__, **change}), DEFINITION, DIRECTORY)
    assert item is None and any(e.startswith(reason) or reason in e for e in errors), errors


def test_every_problem_is_reported_at_once() -> None:
    typed = Typed(title="", handlungsfeld="", themenforum="", lead="", cost="viel")
    _, errors = check(typed, DEFINITION, DIRECTORY)
    assert len(errors) == 5, errors


def test_who_may_create_what() -> None:
    coordinator = DIRECTORY.actor("koordination")
    forum3 = DIRECTORY.actor("forum-03")
    ministry = next(a for a in DIRECTORY.actors.values() if a.role == "ministry")
    assert may_create(coordinator, DEFINITION) and may_create(forum3, DEFINITION)
    assert not may_create(ministry, DEFINITION)
    item, _ = check(GOOD, DEFINITION, DIRECTORY)
    other, _ = check(Typed(**{**GOOD.__dict__, "themenforum": "8"}), DEFINITION, DIRECTORY)
    assert item is not None and other is not None
    assert create_refusal(forum3, DEFINITION, item) is None
    refused = create_refusal(forum3, DEFINITION, other)
    assert refused is not None and "Leitung des Themenforums 8" in refused
    assert isinstance(coordinator, Actor) and create_refusal(coordinator, DEFINITION, other) is None
