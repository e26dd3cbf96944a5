"""Planning one transition of one proposal: the machine decides, nothing is written yet.

The checks of the hot path (DESIGN.md, "How a transition flows") in their order: the trigger
leaves the proposal's state, the actor holds one of its roles, the fields are the declared
ones and the required ones are given, the guards hold. What passes becomes a
:class:`~workflow.engine.writing.Plan` that the engine writes with the others of its batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflow.access.directory import Actor, Directory
from workflow.access.policy import refusal
from workflow.engine.guard_context import DbGuardContext
from workflow.engine.writing import Plan, last_change
from workflow.errors import DateInFuture, InvalidInput, PermissionDenied, TransitionNotAllowed
from workflow.process.fields import dated_after_today, missing_requirements, parse_fields
from workflow.process.german import date_in_future
from workflow.process.machine import ProcessMachine
from workflow.process.vocabulary import BERLIN
from workflow.store.db import Connection


def plan_transition(
    conn: Connection,
    machine: ProcessMachine,
    row: Mapping[Any, Any],
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    comment: str | None,
    raw_fields: Mapping[Any, Any],
    directory: Directory,
) -> Plan:
    """The plan of firing ``trigger`` on ``row`` (its definition version's ``machine``).

    Raises TransitionNotAllowed (not from this state, a missing field, a failed guard),
    PermissionDenied (none of the transition's roles) or InvalidInput (an undeclared field;
    DateInFuture: a date that must have passed lies after the day of ``now``).
    """
    definition = machine.definition
    key, state = row["key"], row["state"]
    transition = definition.transition(trigger, state)
    if transition is None:
        possible = [t.trigger for t in definition.triggers_from(state)]
        raise TransitionNotAllowed(
            key, trigger, state, possible=possible, last_change=last_change(conn, key)
        )
    reason = refusal(actor, transition.roles, row)
    if reason is not None:
        raise PermissionDenied(actor.id, trigger, key, reason)
    fields = parse_fields(definition, raw_fields)
    undeclared = [name for name in fields if name not in transition.requires]
    if undeclared:
        takes = ", ".join(n for n in transition.requires if n != "comment") or "no field"
        raise InvalidInput(f"{trigger} does not take the field {undeclared[0]} (it takes: {takes})")
    for field, day in dated_after_today(definition, fields, now):  # the cabinet cannot
        today = now.astimezone(BERLIN).date()  # have decided tomorrow
        raise DateInFuture(field.name, day, today, date_in_future(field.label, day, today))
    missing = missing_requirements(transition, fields, comment)
    if missing:
        raise TransitionNotAllowed(key, trigger, state, reasons=[f"missing {m}" for m in missing])
    ctx = DbGuardContext(conn, row, fields, now, directory)
    machine.fire(key, state, trigger, ctx)
    return Plan(row, definition, transition, trigger, transition.dest, fields, comment)
