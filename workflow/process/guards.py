"""The one registry of guards a definition may name.

A guard looks at a proposal (through a :class:`GuardContext`) and returns ``None``
when the transition may go ahead, or a reason in plain words when it may not.
Guards read; they never write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from workflow.process.german import euro, listing


class GuardContext(Protocol):
    """What a guard may look at. The engine provides it, backed by the database."""

    @property
    def proposal(self) -> Mapping[str, Any]:
        """The proposal row (key, lead, cost_estimate, handlungsfeld, data, …)."""

    @property
    def fields(self) -> Mapping[str, Any]:
        """Values given with the trigger (``--set``)."""

    @property
    def now(self) -> datetime:
        """The engine's now (aware, UTC)."""

    def statement_groups(self) -> frozenset[str]:
        """Groups (kommune, ihk, …) that have given a statement on the proposal."""

    def secured_funding(self) -> Decimal:
        """The sum of secured funding of the proposal."""

    def deadline_passed(self, kind: str) -> bool:
        """True when the open deadline ``kind`` of the current state is due at or before now."""

    def ministry_known(self, code: str) -> bool:
        """True when ``code`` is a ministry of the directory."""


@dataclass(frozen=True)
class MemoryGuardContext:
    """A :class:`GuardContext` from plain values: guards tested (or previewed) without a database.

    The engine's context (:class:`workflow.engine.guard_context.DbGuardContext`) reads the
    same answers lazily from its transaction.
    """

    proposal: Mapping[str, Any]
    now: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    statements_from: frozenset[str] = frozenset()
    funding_secured: Decimal = Decimal(0)
    passed_deadlines: frozenset[str] = frozenset()
    ministries: frozenset[str] = frozenset()

    def statement_groups(self) -> frozenset[str]:
        """Groups (kommune, ihk, …) that have given a statement on the proposal."""
        return self.statements_from

    def secured_funding(self) -> Decimal:
        """The sum of secured funding of the proposal."""
        return self.funding_secured

    def deadline_passed(self, kind: str) -> bool:
        """True when the open deadline ``kind`` of the current state is due at or before now."""
        return kind in self.passed_deadlines

    def ministry_known(self, code: str) -> bool:
        """True when ``code`` is a ministry of the directory."""
        return code in self.ministries


class Refusal(str):
    """Why a guard fails: the English reason (the CLI, the logs) with its German sentence
    (``de``: what the web and other German texts show)."""

    de: str

    def __new__(cls, en: str, de: str) -> Refusal:
        refusal = super().__new__(cls, en)
        refusal.de = de
        return refusal


GuardFunction = Callable[[GuardContext], str | None]


@dataclass(frozen=True)
class Guard:
    """A named check with a one-line description for ``ruhrflow triggers``, and what it
    requires in German (the default of a definition's ``guards:`` text)."""

    name: str
    description: str
    check: GuardFunction
    text_de: str = ""


REGISTRY: dict[str, Guard] = {}


def guard(
    name: str, description: str, text_de: str = ""
) -> Callable[[GuardFunction], GuardFunction]:
    """Register a guard function under ``name`` (``text_de``: what it requires, German)."""

    def register(fn: GuardFunction) -> GuardFunction:
        if name in REGISTRY:
            raise ValueError(f"guard {name!r} registered twice")
        REGISTRY[name] = Guard(name, description, fn, text_de)
        return fn

    return register


CONSULTED_GROUPS = ("kommune", "ihk", "hwk", "verband")
_GROUP_NAMES = {"kommune": "Kommunen", "ihk": "IHK", "hwk": "HWK", "verband": "Verbände"}
_GROUP_NAMES_DE = {
    "kommune": "Kommunen",
    "ihk": "der IHK",
    "hwk": "der HWK",
    "verband": "Verbänden",
}


@guard(
    "consultation_complete",
    "a statement from each of Kommunen, IHK, HWK and Verbände, or the consultation deadline passed",
    "Kommunen, IHK, HWK und Verbände haben Stellung genommen, oder die Beteiligungsfrist ist"
    " abgelaufen",
)
def consultation_complete(ctx: GuardContext) -> str | None:
    missing = [g for g in CONSULTED_GROUPS if g not in ctx.statement_groups()]
    if not missing or ctx.deadline_passed("consultation"):
        return None
    names = ", ".join(_GROUP_NAMES[g] for g in missing)
    return Refusal(
        f"no statement yet from {names}, and the consultation deadline has not passed",
        f"Noch keine Stellungnahme von {listing([_GROUP_NAMES_DE[g] for g in missing])},"
        " und die Beteiligungsfrist läuft noch.",
    )


@guard(
    "lead_ministry_assigned",
    "a known federführendes Ressort is assigned",
    "Ein federführendes Ressort ist zugeordnet",
)
def lead_ministry_assigned(ctx: GuardContext) -> str | None:
    lead = ctx.proposal.get("lead")
    if not lead:
        return Refusal(
            "no lead ministry (federführendes Ressort) assigned",
            "Es ist kein federführendes Ressort zugeordnet.",
        )
    if not ctx.ministry_known(lead):
        return Refusal(
            f"lead ministry {lead!r} is not in the directory",
            f"Das federführende Ressort „{lead}“ steht nicht im Verzeichnis.",
        )
    return None


@guard("cost_estimated", "the proposal has a cost estimate", "Eine Kostenschätzung liegt vor")
def cost_estimated(ctx: GuardContext) -> str | None:
    cost = ctx.proposal.get("cost_estimate")
    if cost is None or Decimal(cost) <= 0:
        return Refusal("no cost estimate", "Es liegt noch keine Kostenschätzung vor.")
    return None


@guard(
    "in_handlungsfeld",
    "the proposal serves one of the five Handlungsfelder",
    "Der Vorschlag dient einem der fünf Handlungsfelder",
)
def in_handlungsfeld(ctx: GuardContext) -> str | None:
    hf = ctx.proposal.get("handlungsfeld")
    if hf not in (1, 2, 3, 4, 5):
        return Refusal(
            "the proposal serves none of the five Handlungsfelder",
            "Der Vorschlag dient keinem der fünf Handlungsfelder.",
        )
    return None


@guard(
    "financing_secured",
    "secured funding covers the cost estimate",
    "Die gesicherte Finanzierung deckt die Kostenschätzung",
)
def financing_secured(ctx: GuardContext) -> str | None:
    cost = ctx.proposal.get("cost_estimate")
    if cost is None or Decimal(cost) <= 0:
        return Refusal(
            "financing cannot be secured without a cost estimate",
            "Ohne Kostenschätzung lässt sich die Finanzierung nicht sichern.",
        )
    secured = ctx.secured_funding()
    if secured < Decimal(cost):
        return Refusal(
            f"secured funding {secured:,.2f} EUR is below"
            f" the cost estimate {Decimal(cost):,.2f} EUR",
            f"Gesichert sind {euro(secured)}, weniger als die Kostenschätzung von"
            f" {euro(Decimal(cost))}.",
        )
    return None


def german_reason(reason: str) -> str:
    """The German sentence of a guard's reason (a guard that gives none: its English)."""
    return reason.de if isinstance(reason, Refusal) else reason
