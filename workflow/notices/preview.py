"""Render the notice an event would cause, without storing or sending it (``notices preview``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.engine.changes import Applied, RungInfo
from workflow.errors import InvalidInput, UnknownProposal
from workflow.notices import codec
from workflow.notices.context import OpenDeadline, open_deadlines
from workflow.notices.events import Notifier
from workflow.notices.outbox import Notice
from workflow.process.deadline_rules import plan_deadline, rule_of, rules_of
from workflow.store import repo

if TYPE_CHECKING:
    from notifications.mail.render import Renderer
    from workflow.engine.definitions import Machines
    from workflow.process.definition import Definition
    from workflow.store.db import Connection, RowMapping, Store

RUNG_EVENTS = ("reminder", "escalation")
PREVIEW_ACTOR = "koordination"


def render_preview(
    store: Store,
    machines: Machines,
    notifier: Notifier,
    renderer: Renderer,
    key: str,
    event: str,
    now: datetime,
    *,
    process_setting: Mapping[str, Any],
    actor: str = PREVIEW_ACTOR,
) -> dict[str, Any]:
    """The notice ``event`` would cause for proposal ``key`` at ``now``, as plain values.

    ``event`` is a trigger of the definition (its ``status_change``), ``consultation_opened``
    (as ``open_consultation`` would cause it), or ``reminder``/``escalation`` for the soonest
    open deadline of the current state. Reads only. ``notifier`` and ``renderer`` are those
    of the runtime (:attr:`workflow.app.runtime.Runtime.renderer` is delivery's: the preview
    is the mail delivery would send, link included); ``process_setting`` is the ``[process]``
    section, for deadlines planned from a setting.

    When the trigger cannot leave the proposal's current state, the notice is rendered as if
    the proposal were in the trigger's first source state; ``hypothetical`` then says so
    (else it is ``None``).
    """
    with store.read() as conn:
        row = repo.load_proposal(conn, key)
        if row is None:
            raise UnknownProposal(key)
        definition = machines.get(conn, row["definition_id"]).definition
        if event in RUNG_EVENTS:
            return _as_dict(renderer, _rung_preview(notifier, conn, row, definition, event, now))
        trigger = "open_consultation" if event == "consultation_opened" else event
        transition = definition.transition(trigger, row["state"]) or next(
            (t for t in definition.transitions if t.trigger == trigger), None
        )
        if transition is None:
            known = ", ".join(
                [*dict.fromkeys(t.trigger for t in definition.transitions), *RUNG_EVENTS,
                 "consultation_opened"]
            )  # fmt: skip
            raise InvalidInput(f"unknown event {event!r}; known: {known}")
        from_state = row["state"] if row["state"] in transition.sources else transition.sources[0]
        hypothetical = None
        if from_state != row["state"]:
            hypothetical = (
                f"{key} is in state {row['state']!r} ({definition.state_label(row['state'])}),"
                f" where {trigger!r} cannot fire: shown as if it were in {from_state!r}"
                f" ({definition.state_label(from_state)})"
            )
        change = Applied(
            key=key,
            proposal_id=row["id"],
            trigger=trigger,
            from_state=from_state,
            to_state=transition.dest,
            actor=actor,
            comment=None,
            fields={},
            seq=row["history_seq"] + 1,
            at=now,
            definition=definition,
            transition=transition,
            proposal={**row, "state": transition.dest},
        )
        current = _deadlines_of(process_setting, conn, row, definition, transition.dest, now)
        notices = notifier.transition_notices(conn, change, current)
    wanted = "consultation_opened" if event == "consultation_opened" else "status_change"
    notice = next((n for n in notices if n.kind == wanted), None)
    if notice is None:
        raise InvalidInput(f"{key}: {event} would cause no {wanted} notice")
    return {**_as_dict(renderer, notice), "hypothetical": hypothetical}


def _deadlines_of(
    process_setting: Mapping[str, Any],
    conn: Connection,
    row: RowMapping,
    definition: Definition,
    state: str,
    now: datetime,
) -> list[OpenDeadline]:
    """The deadlines of ``state``: the open ones if the proposal is in it, else as planned now."""
    if state == row["state"]:
        return open_deadlines(conn, definition, row["id"], state)
    planned = []
    for rule in rules_of(definition):
        if rule.state != state:
            continue
        plan = plan_deadline(rule, now, row["data"] or {}, process_setting, now)
        if plan is not None:
            planned.append(OpenDeadline(0, rule.kind, rule.label, plan.due_at, 0))
    return sorted(planned, key=lambda d: d.due_at)


def _rung_preview(
    notifier: Notifier,
    conn: Connection,
    row: RowMapping,
    definition: Definition,
    kind: str,
    now: datetime,
) -> Notice:
    current = open_deadlines(conn, definition, row["id"], row["state"])
    for deadline in current:
        rule = rule_of(definition, deadline.kind)
        rung = next((r for r in rule.rungs if r.kind == kind), None) if rule else None
        if rule is None or rung is None:
            continue
        info = RungInfo(
            rung_id=0, deadline_id=deadline.id, proposal_id=row["id"], key=row["key"],
            lead=row["lead"], state=row["state"], deadline=deadline.kind, label=rule.label,
            rung=rung.name, kind=kind, recipients=rung.recipients, due_at=deadline.due_at,
            fire_at=now, late=False,
        )  # fmt: skip
        applied = Applied(
            key=row["key"], proposal_id=row["id"], trigger=f"{deadline.kind}.{rung.name}",
            from_state=row["state"], to_state=row["state"], actor="ruhrflow", comment=None,
            fields={}, seq=row["history_seq"] + 1, at=now, definition=definition,
            transition=None, proposal=dict(row),
        )  # fmt: skip
        return notifier.rung_notice(conn, row, applied, info, now)
    raise InvalidInput(f"{row['key']} has no open deadline with a {kind} in state {row['state']!r}")


def _as_dict(renderer: Renderer, notice: Notice) -> dict[str, Any]:
    # Rendered from the context as the outbox would store it, with delivery's renderer:
    # what delivery would send.
    rendered = renderer.render(notice.kind, codec.decode(codec.encode(notice.context)))
    return {
        "kind": notice.kind,
        "recipients": [{"name": r.name, "address": r.address} for r in notice.recipients],
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "calendar": notice.calendar.summary if notice.calendar else None,
        "hypothetical": None,
    }
