"""Build the template contexts of the notices from the store, the definition and the directory.

Every function here reads; none writes. The contexts are exactly what the templates in
``notifications/templates`` use (see ``tests/notifications/notify_contexts.py``): user text
(titles, comments) is passed as data and never evaluated as a template.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from notifications.mail.model import CalendarEntry, Recipient
from workflow.access.directory import Directory
from workflow.notices import codec
from workflow.process.deadline_rules import rule_of
from workflow.process.definition import Definition
from workflow.process.german import rung_words
from workflow.process.vocabulary import BERLIN
from workflow.store import deadlines as store
from workflow.store.db import Connection

# German names of the consulted groups (the guard ``consultation_complete`` asks for these).
CONSULTED_GROUPS = ("Kommunen", "IHK", "HWK", "Verbände")


@dataclass(frozen=True)
class OpenDeadline:
    """An open deadline of a proposal, as the notices show it."""

    id: int
    kind: str
    label: str
    due_at: datetime
    sequence: int
    series: int | None = None  # the first deadline of its series, when known (else a query)

    def as_context(self) -> dict[str, Any]:
        """The ``deadline`` values the templates use."""
        return {"kind": self.kind, "label": self.label, "due_at": self.due_at}


def proposal_context(
    row: Mapping[Any, Any], definition: Definition, directory: Directory
) -> dict[str, Any]:
    """The ``proposal`` values of every per-proposal template."""
    lead = str(row["lead"])
    ministry = directory.ministry(lead)
    number = int(row["handlungsfeld"])
    return {
        "key": row["key"],
        "title": row["title"],
        "state": row["state"],
        "state_label": definition.state_label(row["state"]),
        "handlungsfeld": number,
        "handlungsfeld_label": definition.handlungsfelder.get(number, ""),
        "themenforum": row["themenforum"],
        "lead": lead,
        "lead_name": ministry.name if ministry else lead,
    }


def field_values(definition: Definition, fields: Mapping[Any, Any]) -> dict[str, Any]:
    """Transition fields under their German labels; ISO dates become dates (for ``wert``)."""
    shown: dict[str, Any] = {}
    for name, value in fields.items():
        spec = definition.fields.get(str(name))
        if spec is not None and spec.type == "date" and isinstance(value, str):
            with contextlib.suppress(ValueError):  # shown as given when it is no ISO date
                value = date.fromisoformat(value)
        shown[spec.label if spec else str(name)] = value
    return shown


def next_steps(definition: Definition, state: str) -> list[dict[str, str]]:
    """The triggers that may leave ``state``, with their German labels."""
    return [{"trigger": t.trigger, "label": t.label} for t in definition.triggers_from(state)]


def open_deadlines_of(
    conn: Connection, definition_of: Mapping[int, Definition]
) -> dict[tuple[int, str], list[OpenDeadline]]:
    """The open deadlines of many proposals (``proposal id → its definition``, for the
    labels) by proposal and state, soonest first; one query per 500 proposals.
    """
    found: dict[tuple[int, str], list[OpenDeadline]] = {}
    for deadline_id, pid, state, kind, due_at, sequence in store.open_of(conn, definition_of):
        rule = rule_of(definition_of[pid], kind)
        label = rule.label if rule is not None else kind
        deadline = OpenDeadline(deadline_id, kind, label, due_at, sequence)
        found.setdefault((pid, state), []).append(deadline)
    return found


def open_deadlines(
    conn: Connection, definition: Definition, proposal_id: int, state: str
) -> list[OpenDeadline]:
    """The open deadlines of a proposal in ``state``, soonest first."""
    return open_deadlines_of(conn, {proposal_id: definition}).get((proposal_id, state), [])


def deadline_by_id(conn: Connection, definition: Definition, deadline_id: int) -> OpenDeadline:
    """One deadline (open or not) by id."""
    r = store.deadline_by_id(conn, deadline_id)
    rule = rule_of(definition, r["kind"])
    label = rule.label if rule is not None else r["kind"]
    return OpenDeadline(r["id"], r["kind"], label, r["due_at"], r["sequence"])


def calendar_entry(
    deadline: OpenDeadline, proposal: Mapping[str, Any], *, uid: str
) -> CalendarEntry:
    """The ``termin.ics`` of a deadline: ``uid`` (:func:`calendar_series`), SEQUENCE from the
    store (the period of a recurring deadline)."""
    return CalendarEntry(
        uid=uid,
        sequence=deadline.sequence,
        summary=f"Frist: {deadline.label} – {proposal['key']}",
        description=f"Vorschlag {proposal['key']} „{proposal['title']}“\n{deadline.label}",
        starts_at=deadline.due_at,
    )


def calendar_series(conn: Connection, deadline: OpenDeadline) -> int:
    """The deadline row that identifies the calendar entry of ``deadline``.

    Each period of a recurring deadline (the quarterly progress report) is a row of its own;
    all periods share the entry of their first period (``series_id``), so a calendar moves
    the one appointment and SEQUENCE (periods and moves) counts. A deadline whose
    SEQUENCE is 0 is a first period never moved: its own series, no query needed.
    """
    if deadline.sequence == 0:
        return deadline.id
    if deadline.series is not None:  # the deadline effect knew it
        return deadline.series
    return store.series_of(conn, deadline.id)


def days_between(earlier: datetime, later: datetime) -> int:
    """Calendar days in Europe/Berlin from ``earlier`` to ``later`` (negative if reversed)."""
    return (later.astimezone(BERLIN).date() - earlier.astimezone(BERLIN).date()).days


def status_change_context(
    *,
    proposal: Mapping[str, Any],
    definition: Definition,
    directory: Directory,
    trigger: str,
    from_state: str,
    to_state: str,
    actor: str,
    at: datetime,
    comment: str | None,
    fields: Mapping[Any, Any],
    deadlines_open: Sequence[OpenDeadline],
    shared: dict[Any, Any] | None = None,
    texts: ContextTexts | None = None,
) -> dict[str, Any]:
    """The context of ``status_change``.

    ``texts``: the notifier's :class:`ContextTexts`; the next steps of a state are then
    the same list each time (its JSON text written once).

    ``shared``: a memo for the notices of one command (a bulk advance, ``directory`` the
    same throughout). Parts equal in value — the transition, the next steps, the deadlines
    entered — are then built once and are the same object in every context, which the
    outbox encodes once (:class:`workflow.notices.codec.Dumps`). Equal means of the same
    types, zones and folds too (``True`` is not ``1``, nor ``1.0`` ``1``).
    """
    transition: dict[str, Any] | None = None
    steps: list[dict[str, str]] | None = None
    shown: list[dict[str, Any]] | None = None
    keys: tuple[Any, Any, Any] | None = None
    if shared is not None:
        keys = _shared_keys(definition, trigger, from_state, to_state, actor, at, comment,
                            fields, deadlines_open)  # fmt: skip
        if keys is not None:
            transition, steps, shown = (shared.get(k) for k in keys)
    if transition is None:
        who = directory.actors.get(actor)
        transition = {
            "trigger": trigger,
            "trigger_label": definition.trigger_label(trigger),
            "from_state": from_state,
            "from_label": definition.state_label(from_state),
            "to_state": to_state,
            "to_label": definition.state_label(to_state),
            "actor": actor,
            "actor_name": who.name if who else actor,
            "at": at,
            "comment": comment or None,
            "fields": field_values(definition, fields),
        }
    if steps is None:
        steps = (
            next_steps(definition, to_state) if texts is None else texts.steps(definition, to_state)
        )
    if shown is None:
        shown = [d.as_context() for d in deadlines_open]
    if shared is not None and keys is not None:
        shared.update(zip(keys, (transition, steps, shown), strict=True))
    return {
        "proposal": dict(proposal),
        "transition": transition,
        "next_steps": steps,
        "deadlines": shown,
    }


_CONTEXT_KEYS = ("proposal", "transition", "next_steps", "deadlines")
_TRANSITION_KEYS = ("trigger", "trigger_label", "from_state", "from_label", "to_state",
                    "to_label", "actor", "actor_name", "at", "comment", "fields")  # fmt: skip
_DEADLINE_KEYS = ("kind", "label", "due_at")
_MEMO_SIZE = 4096


def _strings(values: tuple[Any, ...]) -> bool:
    return all(type(v) is str for v in values)


class ContextTexts:
    """The stored JSON text of ``status_change`` contexts, with the parts that repeat
    written once (one per notifier, for the life of its runtime).

    The text is exactly :func:`workflow.notices.codec.dumps` of the context (property-tested):
    the parts are spliced in the context's own order. What never changes for a definition
    version — a transition's trigger and states with their labels, the next steps of a state,
    an actor with his name, a deadline's kind and label — is remembered by value (strings
    only: ``1`` is not ``True``) or, the next steps, per definition (kept, compared by
    identity); the rest (the proposal, the time, the fields, the due times) is written each
    time, plain values without :func:`~workflow.notices.codec.encode`'s walk. A context of
    another shape is written by ``dumps``.
    """

    __slots__ = ("_parts", "_steps")

    def __init__(self) -> None:
        self._parts: dict[tuple[Any, ...], str] = {}
        # (id(definition), state) -> (definition, steps, their text)
        self._steps: dict[tuple[int, str], tuple[Definition, list[dict[str, str]], str]] = {}

    def steps(self, definition: Definition, state: str) -> list[dict[str, str]]:
        """:func:`next_steps`, the same list for a definition and state."""
        return self._steps_of(definition, state)[1]

    def _steps_of(
        self, definition: Definition, state: str
    ) -> tuple[Definition, list[dict[str, str]], str]:
        slot = (id(definition), state)
        found = self._steps.get(slot)
        if found is None or found[0] is not definition:
            if len(self._steps) >= _MEMO_SIZE:
                self._steps.clear()
            steps = next_steps(definition, state)
            found = self._steps[slot] = (definition, steps, codec.dumps(steps))
        return found

    def status_change(
        self, context: dict[str, Any], definition: Definition, same: dict[Any, Any] | None = None
    ) -> str:
        """``dumps(context)`` of a :func:`status_change_context` built with these texts.

        ``same``: the ``shared`` memo of one command; parts that are the same object in many
        contexts (the transition, the deadlines of a bulk advance) are then written once.
        """
        if type(context) is not dict or tuple(context) != _CONTEXT_KEYS:
            return codec.dumps(context)
        proposal, transition, steps, shown = context.values()
        to_state = transition.get("to_state") if type(transition) is dict else None
        if type(to_state) is not str:
            return codec.dumps(context)
        kept = self._steps_of(definition, to_state)
        steps_text = kept[2] if steps is kept[1] else codec.dumps(steps)
        return (
            f'{{"proposal": {codec.plain_text(proposal)}, '
            f'"transition": {self._shared(same, transition, self._transition)}, '
            f'"next_steps": {steps_text}, '
            f'"deadlines": {self._shared(same, shown, self._deadlines)}}}'
        )

    def _shared(self, same: dict[Any, Any] | None, part: Any, write: Any) -> str:
        if same is None:
            return str(write(part))
        slot = ("text", id(part))
        found = same.get(slot)
        if found is not None and found[0] is part:
            return str(found[1])
        text = write(part)
        same[slot] = (part, text)  # the part is kept: its id stays its own
        return str(text)

    def _memo(self, key: tuple[Any, ...], text: str) -> str:
        if len(self._parts) >= _MEMO_SIZE:
            self._parts.clear()
        self._parts[key] = text
        return text

    def _transition(self, t: Any) -> str:
        if type(t) is not dict or tuple(t) != _TRANSITION_KEYS:
            return codec.dumps(t)
        (trigger, trigger_label, from_state, from_label, to_state, to_label, actor, actor_name,
         at, comment, fields) = t.values()  # fmt: skip
        move = ("move", trigger, trigger_label, from_state, from_label, to_state, to_label)
        head = self._parts.get(move)
        if head is None:
            if not _strings(move):
                return codec.dumps(t)
            head = self._memo(move, codec.dumps(dict(zip(_TRANSITION_KEYS[:6], move[1:],
                                                          strict=True)))[:-1])  # fmt: skip
        who = ("actor", actor, actor_name)
        by = self._parts.get(who)
        if by is None:
            if not _strings(who):
                return codec.dumps(t)
            by = self._memo(who, f'"actor": {codec.quoted(actor)}, '
                                 f'"actor_name": {codec.quoted(actor_name)}')  # fmt: skip
        note = "null" if comment is None else codec.dumps(comment)
        return (
            f'{head}, {by}, "at": {codec.time_text(at)}, "comment": {note}, '
            f'"fields": {codec.plain_text(fields)}}}'
        )

    def _deadlines(self, shown: Any) -> str:
        if type(shown) is not list:
            return codec.dumps(shown)
        items = []
        for d in shown:
            if type(d) is not dict or tuple(d) != _DEADLINE_KEYS:
                return codec.dumps(shown)
            kind, label, due_at = d.values()
            what = ("deadline", kind, label)
            head = self._parts.get(what)
            if head is None:
                if not _strings(what):
                    return codec.dumps(shown)
                head = self._memo(what, f'{{"kind": {codec.quoted(kind)}, '
                                        f'"label": {codec.quoted(label)}, ')  # fmt: skip
            items.append(f'{head}"due_at": {codec.time_text(due_at)}}}')
        return "[" + ", ".join(items) + "]"


class _Unkeyed(Exception):
    """A value :func:`_exact` cannot key (not a plain scalar)."""


def _exact(value: Any) -> Any:
    """A key equal only for the same value of the same type (zone and fold of a time)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool or kind is date:
        return (kind, value)
    if kind is datetime:
        return (kind, value, value.tzinfo, value.fold)
    if kind is float or kind is Decimal:
        return (kind, repr(value))  # -0.0 is not 0.0, 1.0 not 1.00
    raise _Unkeyed


def _shared_keys(
    definition: Definition,
    trigger: str,
    from_state: str,
    to_state: str,
    actor: str,
    at: datetime,
    comment: str | None,
    fields: Mapping[Any, Any],
    deadlines_open: Sequence[OpenDeadline],
) -> tuple[Any, Any, Any] | None:
    """The memo keys of the transition, the next steps and the deadlines of a context
    (None when a field value is no plain scalar: then nothing is shared)."""
    try:
        given = tuple((_exact(k), _exact(v)) for k, v in fields.items())
        due = tuple((d.kind, d.label, _exact(d.due_at)) for d in deadlines_open)
        when = _exact(at)
    except _Unkeyed:
        return None
    return (
        ("transition", id(definition), trigger, from_state, to_state, actor, when,
         _exact(comment), given),
        ("next_steps", id(definition), to_state),
        ("deadlines", due),
    )  # fmt: skip


def rung_context(
    *,
    proposal: Mapping[str, Any],
    deadline: OpenDeadline,
    kind: str,
    rung: str,
    now: datetime,
    late_since: datetime | None = None,
) -> dict[str, Any]:
    """The context of ``reminder`` (days left) or ``escalation`` (days overdue).

    ``late_since`` is the rung's own time when it goes out late (after downtime): the notice
    says so, and since when.
    """
    values = {**deadline.as_context(), "rung": rung_words(rung), "late_since": late_since}
    if kind == "reminder":
        values["days_left"] = days_between(now, deadline.due_at)
    else:
        values["overdue_days"] = max(0, days_between(deadline.due_at, now))
    return {"proposal": dict(proposal), "deadline": values}


def consultation_context(*, proposal: Mapping[str, Any], deadline: OpenDeadline) -> dict[str, Any]:
    """The context of ``consultation_opened``."""
    return {
        "proposal": dict(proposal),
        "deadline": deadline.as_context(),
        "groups": list(CONSULTED_GROUPS),
    }


# --- recipients -------------------------------------------------------------------------------


def ministry_recipients(directory: Directory, codes: Iterable[str]) -> list[Recipient]:
    """The functional addresses of the ministries ``codes`` (unknown codes give none)."""
    found: list[Recipient] = []
    for code in codes:
        ministry = directory.ministry(code)
        if ministry is not None:
            found.extend(Recipient(ministry.name, email) for email in ministry.emails)
    return found


def role_recipients(
    directory: Directory, roles: Iterable[str], row: Mapping[Any, Any]
) -> list[Recipient]:
    """The addresses behind process roles for one proposal.

    ``lead_ministry`` is the proposal's lead ministry, ``ministry`` its participating ones,
    ``forum_lead`` the lead of its Themenforum, any other role every actor with that role.
    Actors without an address give none.
    """
    found: list[Recipient] = []
    for role in roles:
        if role == "lead_ministry":
            found += ministry_recipients(directory, [str(row["lead"])])
        elif role == "ministry":
            found += ministry_recipients(directory, list(row.get("participating") or []))
        else:
            for actor in directory.by_role(role):
                if role == "forum_lead" and actor.forum != row.get("themenforum"):
                    continue
                if actor.email:
                    found.append(Recipient(actor.name, actor.email))
    return unique(found)


def unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    """Recipients without repeated addresses (case-insensitive), first name wins."""
    seen: set[str] = set()
    result = []
    for r in recipients:
        if r.address.lower() not in seen:
            seen.add(r.address.lower())
            result.append(r)
    return result
