"""What can happen next to a proposal: every trigger leaving its state, and what blocks it.

The same checks as a transition makes (role, required fields, guards), collected instead of
raised, in English for the CLI and in German for the web.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.access.directory import Actor
from workflow.access.policy import refusal, refusal_de
from workflow.engine.changes import TriggerOption
from workflow.errors import DateInFuture
from workflow.process.definition import Definition
from workflow.process.fields import dated_after_today, described, missing_fields
from workflow.process.german import date_in_future
from workflow.process.guards import REGISTRY, GuardContext, german_reason
from workflow.process.machine import check_guards
from workflow.process.vocabulary import BERLIN


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
    today = ctx.now.astimezone(BERLIN).date()
    late = dated_after_today(definition, given, ctx.now)
    for t in definition.triggers_from(row["state"]):
        blocked: list[str] = []
        german: list[str] = []  # the same reasons, for the web
        if who is not None:
            reason = refusal(who, t.roles, row)
            if reason:
                blocked.append(f"role: {reason}")
                german.append(refusal_de(who, t.roles, row))
        for name in missing_fields(t, given, comment):
            blocked.append(f"missing {described(name)}")
            german.append(f"Es fehlt: {_field_label_de(definition, name)}.")
        for field, day in late:
            if field.name in t.requires:
                blocked.append(str(DateInFuture(field.name, day, today, "")))
                german.append(date_in_future(field.label, day, today))
        for g, why in check_guards(t, ctx):
            blocked.append(f"guard {g}: {why} ({REGISTRY[g].description})")
            german.append(f"{german_reason(why)} (Voraussetzung: {definition.guard_text(g)}.)")
        options.append(
            TriggerOption(
                t.trigger, t.label, t.dest, not blocked, blocked, t.roles, t.requires, german
            )
        )
    return options


def _field_label_de(definition: Definition, name: str) -> str:
    """A required field by its German label (the comment is no field)."""
    if name == "comment":
        return "ein Kommentar"
    found = definition.fields.get(name)
    return found.label if found is not None else name
