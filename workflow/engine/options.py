"""What can happen next to a proposal: every trigger leaving its state, and what blocks it.

The same checks as a transition makes (role, required fields, guards), collected instead of
raised: each as a :class:`Blocker` (data), said in English for the CLI (:func:`english`) and
in German for the web (:func:`german`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from workflow.access.directory import Actor
from workflow.access.policy import refusal, refusal_de
from workflow.engine.changes import TriggerOption
from workflow.errors import DateInFuture, WorkflowError
from workflow.process.definition import Definition, TransitionDef
from workflow.process.fields import dated_after_today, described, missing_fields
from workflow.process.german import date_in_future
from workflow.process.guards import REGISTRY, GuardContext, german_reason
from workflow.process.machine import check_guards
from workflow.process.vocabulary import BERLIN

BlockerKind = Literal["state", "role", "missing", "date", "guard", "refused"]


@dataclass(frozen=True)
class Blocker:
    """One reason a trigger cannot fire on a proposal, as data.

    ``kind`` says which check: ``state`` (the trigger does not leave the proposal's state,
    ``name`` the state), ``role`` (``why``/``why_de`` the refusal in English and German: they
    depend on who asks), ``missing`` (``name`` a required field or ``comment``), ``date``
    (``name`` a date field after ``today``: ``day``), ``guard`` (``name`` the guard, ``why``
    its reason, a :class:`~workflow.process.guards.Refusal` when it has a German sentence),
    ``refused`` (any other refusal of the engine: ``why``, ``why_de``).
    """

    kind: BlockerKind
    name: str = ""
    why: str = ""
    why_de: str = ""
    day: date | None = None
    today: date | None = None


def blockers(
    definition: Definition,
    transition: TransitionDef,
    row: Mapping[Any, Any],
    who: Actor | None,
    given: Mapping[str, Any],
    comment: str | None,
    ctx: GuardContext,
) -> list[Blocker]:
    """Everything that keeps ``who`` (None: anybody) from firing ``transition`` on ``row``
    with ``given`` (parsed) fields and ``comment`` now (guards evaluated on ``ctx``), in the
    order: role, missing fields, dates in the future, guards. Empty when it can fire."""
    found: list[Blocker] = []
    if who is not None:
        reason = refusal(who, transition.roles, row)
        if reason:
            found.append(Blocker("role", why=reason, why_de=refusal_de(who, transition.roles, row)))
    for name in missing_fields(transition, given, comment):
        found.append(Blocker("missing", name))
    today = ctx.now.astimezone(BERLIN).date()
    for field, day in dated_after_today(definition, given, ctx.now):
        if field.name in transition.requires:
            found.append(Blocker("date", field.name, day=day, today=today))
    for g, why in check_guards(transition, ctx):
        found.append(Blocker("guard", g, why=why))
    return found


def refused(exc: WorkflowError, german: str) -> Blocker:
    """A refusal no check of :func:`blockers` names (a lost race, an unknown proposal, an
    invalid field), with its German sentence."""
    return Blocker("refused", why=str(exc), why_de=getattr(exc, "german", None) or german)


def english(definition: Definition, blocker: Blocker) -> str:
    """``blocker`` in English (the CLI, ``triggers``' ``blocked_by``)."""
    if blocker.kind == "state":
        return f"not possible in state {blocker.name}"
    if blocker.kind == "role":
        return f"role: {blocker.why}"
    if blocker.kind == "missing":
        return f"missing {described(blocker.name)}"
    if blocker.kind == "date":
        assert blocker.day is not None and blocker.today is not None
        return str(DateInFuture(blocker.name, blocker.day, blocker.today, ""))
    if blocker.kind == "guard":
        return f"guard {blocker.name}: {blocker.why} ({REGISTRY[blocker.name].description})"
    return blocker.why


def german(definition: Definition, blocker: Blocker) -> str:
    """``blocker`` in German (the web: the proposal's options and the bulk preview)."""
    if blocker.kind == "state":
        return "im Status nicht möglich"
    if blocker.kind == "missing":
        return f"Es fehlt: {_field_label_de(definition, blocker.name)}."
    if blocker.kind == "date":
        assert blocker.day is not None and blocker.today is not None
        label = definition.fields[blocker.name].label
        return date_in_future(label, blocker.day, blocker.today)
    if blocker.kind == "guard":
        needs = definition.guard_text(blocker.name)
        return f"{german_reason(blocker.why)} (Voraussetzung: {needs}.)"
    return blocker.why_de


def trigger_options(
    definition: Definition,
    row: Mapping[Any, Any],
    who: Actor | None,
    given: Mapping[str, Any],
    comment: str | None,
    ctx: GuardContext,
) -> list[TriggerOption]:
    """Every trigger from ``row``'s state: can ``who`` fire it now with ``given`` fields and
    ``comment`` (guards evaluated on ``ctx``), and if not, why not."""
    options = []
    for t in definition.triggers_from(row["state"]):
        found = blockers(definition, t, row, who, given, comment, ctx)
        blocked = [english(definition, b) for b in found]
        options.append(
            TriggerOption(
                t.trigger, t.label, t.dest, not found, blocked, t.roles, t.requires,
                [german(definition, b) for b in found], tuple(b.kind for b in found),
            )
        )  # fmt: skip
    return options


def _field_label_de(definition: Definition, name: str) -> str:
    """A required field by its German label (the comment is no field)."""
    if name == "comment":
        return "ein Kommentar"
    found = definition.fields.get(name)
    return found.label if found is not None else name


@dataclass(frozen=True)
class Previewed:
    """What a bulk dry run (:meth:`~workflow.engine.advancing.Transitions.preview_many`) found
    for one proposal: whether the trigger applies, and if not, every reason (``blocked``),
    to be said with ``definition`` (the proposal's registered version)."""

    key: str
    applies: bool
    blocked: list[Blocker]
    definition: Definition | None  # None: the proposal was not found
