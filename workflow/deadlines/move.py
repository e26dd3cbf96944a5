"""Moving an open deadline: ``ruhrflow deadlines move KEY DEADLINE --to DATE --reason TEXT``.

A coordinator (``permissions.move_deadline``) may move a deadline of a proposal's current
state to another day (the cabinet session was postponed, a ministry was granted more time).
The engine runs the move in its unit of work, in one write transaction:

* the deadline gets its new due time (the rule's local time on the new day) and its
  ``sequence`` grows by one, so that the calendar entry with the same UID is moved, not
  added again (iCalendar SEQUENCE);
* its pending rungs are planned anew from the rule: a reminder whose new time has passed is
  cancelled, a reminder left out when the deadline was made and now in the future is added;
  a rung that has fired stays fired (it was sent, and is in the history);
* a ``deadline_moved`` entry goes into the proposal's history, with the reason;
* a ``deadline_moved`` notice goes into the outbox (the lead ministry, the coordinators and
  the roles the rule reminds), carrying the calendar entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from workflow.engine.changes import Applied, MovedDeadline
from workflow.engine.commands import Command
from workflow.engine.effects import Effect
from workflow.errors import InvalidInput, TransitionNotAllowed
from workflow.process.calendar import anchor
from workflow.process.deadline_rules import REMINDER, rule_of
from workflow.process.definition import Definition
from workflow.store import deadlines as deadlines_store
from workflow.store.db import Connection

MOVED = "deadline_moved"  # history kind and notice kind
_MAX_REASON = 2000


def deadline_move(
    key: str,
    kind: str,
    to_day: date,
    *,
    reason: str,
    now: datetime,
    effects: Sequence[Effect] = (),
) -> Command:
    """The command that moves the open deadline ``kind`` of ``key`` to ``to_day`` (see the
    module doc); the engine runs it (:meth:`workflow.engine.engine.Engine.execute`), and
    its ``result`` is then the :class:`MovedDeadline`.

    Who may: ``permissions.move_deadline`` (default: coordinator). ``on_deadline_moved`` of
    each of ``effects`` (the runtime's one list) runs in the same transaction, after the
    history entry (the notices': :meth:`workflow.notices.events.Notifier.on_deadline_moved`).
    Raises
    :class:`~workflow.errors.InvalidInput` (an empty reason here; when run: no such deadline
    in the definition, a day not after now or the same due time) and, when run,
    :class:`~workflow.errors.TransitionNotAllowed` (no open deadline of that kind now).
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput("--reason must not be empty: say why the deadline moves")
    if len(reason) > _MAX_REASON or any(ord(c) < 0x20 and c not in "\n\t" for c in reason):
        raise InvalidInput(f"--reason must be text of at most {_MAX_REASON} characters")

    def write(conn: Connection, row: Mapping[Any, Any], definition: Definition) -> None:
        rule = rule_of(definition, kind)
        if rule is None:
            raise InvalidInput(f"{key}: the process has no deadline {kind!r}")
        found = deadlines_store.open_deadline(conn, row["id"], kind, row["state"])
        if found is None:
            raise TransitionNotAllowed(
                key, "move_deadline", row["state"], reasons=[f"no open deadline {kind!r}"]
            )
        due_at = rule.due_at(to_day)
        if due_at <= now:
            raise InvalidInput(f"--to {to_day.isoformat()}: the new due time must be after now")
        if due_at == found["due_at"]:
            raise InvalidInput(f"{key}: {kind} is due on {to_day.isoformat()} already")
        sequence = int(found["sequence"]) + 1
        deadlines_store.reschedule(conn, found["id"], due_at, sequence)
        rungs = _replan(conn, found["id"], rule, to_day, now)
        command.data.update(
            {"deadline": kind, "from": found["due_at"].isoformat(), "to": due_at.isoformat(),
             "sequence": sequence}
        )  # fmt: skip
        command.result = MovedDeadline(
            deadline_id=int(found["id"]), proposal_id=int(row["id"]), key=key, kind=kind,
            label=rule.label, old_due_at=found["due_at"], due_at=due_at, sequence=sequence,
            reason=reason, rungs=rungs,
        )  # fmt: skip

    def after(conn: Connection, applied: Applied) -> None:
        for effect in effects:
            effect.on_deadline_moved(conn, applied, command.result, now)

    command = Command(
        "move_deadline", MOVED, write, comment=reason, trigger=f"{kind}.move",
        denied_as="move a deadline", after=after,
    )  # fmt: skip
    return command


def _replan(
    conn: Connection, deadline_id: int, rule: Any, day: date, now: datetime
) -> tuple[tuple[str, datetime], ...]:
    """Plan the rungs of ``rule`` for a deadline now due on ``day``; return the pending ones."""
    existing = {r["rung"]: r for r in deadlines_store.rungs_of(conn, deadline_id)}
    pending: list[tuple[str, datetime]] = []
    for rung in rule.rungs:
        fire_at = anchor(rung.fire_date(day), rule.at)
        passed = rung.kind == REMINDER and fire_at <= now
        current = existing.get(rung.name)
        if current is None:
            if not passed:
                deadlines_store.add_rung(conn, deadline_id, rung.name, fire_at)
                pending.append((rung.name, fire_at))
            continue
        if current["fired_at"] is not None or current["cancelled_at"] is not None:
            continue  # sent already (it is in the history), or cancelled
        values: dict[str, Any] = {"cancelled_at": now} if passed else {"fire_at": fire_at}
        deadlines_store.change_rung(conn, current["id"], **values)
        if not passed:
            pending.append((rung.name, fire_at))
    return tuple(sorted(pending, key=lambda item: item[1]))


__all__ = ["MOVED", "MovedDeadline", "deadline_move"]
