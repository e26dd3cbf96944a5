"""Deadline rules of a definition, and the effect that keeps the ``deadlines`` table true.

A rule in the ``deadlines:`` section of a definition names the state it belongs to, how
its due time is found, and its rungs::

    consultation:
      state: consultation            # created on entering, closed on leaving the state
      label: Ende der Beteiligung
      after: 21d                     # or: date: 2019-07-15 | date_setting: KEY | field: F
      at: "09:00"                    # local time (Europe/Berlin) of due time and rungs
      remind: [7d, 1d]               # reminder rungs before the due time
      escalate: [2wd]                # escalation rungs after it
      remind_to: [lead_ministry]     # roles (default lead_ministry)
      escalate_to: [coordinator]     # roles (default coordinator)
      reset_by: [report_progress]    # recurring: these self-transitions start a new period

``field: cabinet_session`` with ``before: 8d`` takes a date the proposal carries;
``date_setting: budget_deadline`` a date from the ``[process]`` section of the settings.
When the date is missing, the proposal simply has no such deadline.

The effect (:class:`DeadlineEffect`) runs in the transaction of every transition: leaving
a state closes its open deadlines (and cancels their pending rungs); entering one creates
the deadlines of the new state with their rungs. Reminders whose time has already passed
when the deadline is created are left out; escalations are kept (a late entry into a state
whose deadline has passed is overdue, and the next sweep says so).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from workflow.calendar import (
    Duration,
    anchor,
    local_date,
    parse_duration,
    parse_local_time,
    shift,
)
from workflow.errors import InvalidDefinition, Problem
from workflow.store.direct import Direct
from workflow.store.schema import deadline_rungs, deadlines

if TYPE_CHECKING:
    from workflow.definition import Definition
    from workflow.engine import Applied, Engine

log = logging.getLogger("ruhrflow.deadlines")

DEFAULT_AT = "09:00"
_RULE_KEYS = {
    "state", "label", "after", "date", "date_setting", "field", "before", "at",
    "remind", "escalate", "remind_to", "escalate_to", "reset_by",
}  # fmt: skip
_SOURCES = ("after", "date", "date_setting", "field")

OPEN, CLOSED, MET = "open", "closed", "met"
REMINDER, ESCALATION = "reminder", "escalation"


@dataclass(frozen=True)
class Rung:
    """A moment relative to the due time at which somebody is told something."""

    name: str  # e.g. remind-7d, escalate-2wd (unique within a deadline)
    kind: str  # reminder | escalation
    offset: Duration
    recipients: tuple[str, ...]  # roles

    def fire_date(self, due_day: date) -> date:
        """The local date this rung fires on for a deadline due on ``due_day``."""
        return shift(due_day, self.offset, sign=-1 if self.kind == REMINDER else 1)


@dataclass(frozen=True)
class DeadlineRule:
    """One deadline of a state, as the definition declares it."""

    kind: str
    state: str
    label: str
    at: time
    rungs: tuple[Rung, ...]
    after: Duration | None = None
    fixed_date: date | None = None
    date_setting: str | None = None
    field: str | None = None
    before: Duration | None = None
    reset_by: tuple[str, ...] = ()

    def due_day(
        self, entered: datetime, data: Mapping[str, Any], setting: Mapping[str, Any]
    ) -> date | None:
        """The local due date for a state entered at ``entered``; None when not applicable."""
        if self.after is not None:
            return shift(local_date(entered), self.after)
        if self.fixed_date is not None:
            return self.fixed_date
        if self.date_setting is not None:
            day = _as_date(setting.get(self.date_setting))
        else:
            assert self.field is not None
            day = _as_date(data.get(self.field))
        if day is None or self.before is None:
            return day
        return shift(day, self.before, sign=-1)

    def due_at(self, day: date) -> datetime:
        """The aware UTC due moment on local date ``day``."""
        return anchor(day, self.at)

    def rung(self, name: str) -> Rung | None:
        """The rung called ``name``."""
        return next((r for r in self.rungs if r.name == name), None)

    def describe(self) -> str:
        """How the due time is found, in words (for ``deadlines`` and the docs)."""
        if self.after is not None:
            return f"{self.after.describe()} after entering {self.state}"
        if self.fixed_date is not None:
            return f"on {self.fixed_date.isoformat()}"
        before = f"{self.before.describe()} before " if self.before else "on "
        if self.date_setting is not None:
            return f"{before}the date of setting process.{self.date_setting}"
        return f"{before}the date in field {self.field}"


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


# --- parsing and validation ------------------------------------------------------------------


class _Report:
    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.problems: list[Problem] = []

    def __call__(self, path: str, message: str) -> None:
        line = self.definition.line_of(path)
        parent = path
        while line is None and parent:  # the nearest enclosing key that has a line
            parent = parent.rsplit(".", 1)[0] if "." in parent else ""
            line = self.definition.line_of(parent)
        self.problems.append(Problem(self.definition.path, line, path, message))


def _roles(value: Any, default: tuple[str, ...], path: str, d: Definition, report: _Report) -> Any:
    if value is None:
        return default
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        report(path, "must be a role or a list of roles")
        return default
    for name in names:
        if name not in d.roles:
            report(path, f"unknown role {name!r} (known: {', '.join(d.roles)})")
    return tuple(names)


def _durations(value: Any, path: str, report: _Report) -> list[Duration]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    result: list[Duration] = []
    for i, item in enumerate(items):
        try:
            duration = parse_duration(item)
        except ValueError as exc:
            report(f"{path}[{i}]" if isinstance(value, list) else path, str(exc))
            continue
        if duration in result:
            report(path, f"{duration} is given twice")
        result.append(duration)
    return result


def _parse_rule(kind: str, raw: Any, d: Definition, report: _Report) -> DeadlineRule | None:
    path = f"deadlines.{kind}"
    if not kind.isidentifier() or len(kind) > 40:
        report(path, "a deadline name must be an identifier of at most 40 characters")
    if not isinstance(raw, dict):
        report(path, f"must be a mapping, not {type(raw).__name__}")
        return None
    for key in raw:
        if key not in _RULE_KEYS:
            report(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(_RULE_KEYS))})")
    before_count = len(report.problems)
    state = raw.get("state")
    if not isinstance(state, str) or state not in d.states:
        report(f"{path}.state", f"must name a state of the definition, not {state!r}")
    elif d.states[state].final:
        report(f"{path}.state", f"{state!r} is final: a deadline there could never be met")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        report(f"{path}.label", "must be a non-empty string")
    sources = [s for s in _SOURCES if s in raw]
    if len(sources) != 1:
        report(path, f"needs exactly one of {', '.join(_SOURCES)} (found {len(sources)})")
    after = fixed = None
    date_setting = field = None
    before: Duration | None = None
    if "after" in raw:
        try:
            after = parse_duration(raw["after"])
        except ValueError as exc:
            report(f"{path}.after", str(exc))
    if "date" in raw:
        fixed = _as_date(raw["date"])
        if fixed is None:
            report(f"{path}.date", f"must be a date YYYY-MM-DD, not {raw['date']!r}")
    if "date_setting" in raw:
        date_setting = raw["date_setting"]
        if not isinstance(date_setting, str) or not date_setting.isidentifier():
            report(f"{path}.date_setting", "must name a key of the [process] settings")
    if "field" in raw:
        field = raw["field"]
        f = d.fields.get(field) if isinstance(field, str) else None
        if f is None:
            report(f"{path}.field", f"unknown field {field!r}")
        elif f.type != "date":
            report(f"{path}.field", f"field {field!r} is of type {f.type}, not date")
    if "before" in raw:
        if field is None and date_setting is None:
            report(
                f"{path}.before", "only a deadline taken from a field or setting can lie before it"
            )
        try:
            before = parse_duration(raw["before"])
        except ValueError as exc:
            report(f"{path}.before", str(exc))
    try:
        at = parse_local_time(raw.get("at", DEFAULT_AT))
    except ValueError as exc:
        report(f"{path}.at", str(exc))
        at = parse_local_time(DEFAULT_AT)
    remind_to = _roles(raw.get("remind_to"), ("lead_ministry",), f"{path}.remind_to", d, report)
    escalate_to = _roles(raw.get("escalate_to"), ("coordinator",), f"{path}.escalate_to", d, report)
    rungs = [
        Rung(f"remind-{r}", REMINDER, r, remind_to)
        for r in _durations(raw.get("remind"), f"{path}.remind", report)
    ] + [
        Rung(f"escalate-{e}", ESCALATION, e, escalate_to)
        for e in _durations(raw.get("escalate"), f"{path}.escalate", report)
    ]
    reset_by = raw.get("reset_by") or []
    if isinstance(reset_by, str):
        reset_by = [reset_by]
    if not isinstance(reset_by, list):
        report(f"{path}.reset_by", "must be a trigger or a list of triggers")
        reset_by = []
    for trigger in reset_by:
        t = d.transition(trigger, state) if isinstance(state, str) else None
        if t is None or t.dest != state:
            report(
                f"{path}.reset_by",
                f"{trigger!r} must be a trigger that leads from {state!r} back to it",
            )
    if len(report.problems) > before_count:
        return None
    return DeadlineRule(
        kind=kind,
        state=str(state),
        label=str(label),
        at=at,
        rungs=tuple(rungs),
        after=after,
        fixed_date=fixed,
        date_setting=date_setting,
        field=field,
        before=before,
        reset_by=tuple(reset_by),
    )


def _parse(d: Definition) -> tuple[tuple[DeadlineRule, ...], list[Problem]]:
    report = _Report(d)
    raw = d.raw.get("deadlines")
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        report("deadlines", "must be a mapping of deadline names to rules")
        return (), report.problems
    rules = [_parse_rule(str(kind), value, d, report) for kind, value in raw.items()]
    return tuple(r for r in rules if r is not None), report.problems


def deadline_problems(definition: Definition) -> list[Problem]:
    """Every problem of the ``deadlines:`` section (called by ``parse_definition``)."""
    return _parse(definition)[1]


_CACHE: dict[str, tuple[DeadlineRule, ...]] = {}


def rules_of(definition: Definition) -> tuple[DeadlineRule, ...]:
    """The deadline rules of a (validated) definition, parsed once per content."""
    rules = _CACHE.get(definition.content_hash)
    if rules is None:
        rules, problems = _parse(definition)
        if problems:
            raise InvalidDefinition(problems)
        _CACHE[definition.content_hash] = rules
    return rules


def rule_of(definition: Definition, kind: str) -> DeadlineRule | None:
    """The rule called ``kind``."""
    return next((r for r in rules_of(definition) if r.kind == kind), None)


# --- the effect ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedDeadline:
    """A deadline with its rungs, computed but not yet stored."""

    rule: DeadlineRule
    due_at: datetime
    rungs: tuple[tuple[Rung, datetime], ...]


def plan_deadline(
    rule: DeadlineRule,
    entered: datetime,
    data: Mapping[str, Any],
    setting: Mapping[str, Any],
    now: datetime,
) -> PlannedDeadline | None:
    """The due time and rung times of ``rule`` for a state entered at ``entered``.

    Pure: no database. Reminders already in the past at ``now`` are left out.
    """
    day = rule.due_day(entered, data, setting)
    if day is None:
        return None
    rungs = []
    for rung in rule.rungs:
        fire_at = anchor(rung.fire_date(day), rule.at)
        if rung.kind == REMINDER and fire_at <= now:
            continue
        rungs.append((rung, fire_at))
    return PlannedDeadline(rule, rule.due_at(day), tuple(rungs))


# Built once (the effect runs in every transition's transaction). Each comes twice: with
# expanding IN lists for many proposals, and with plain ``=`` for one — an expanding list
# re-renders the SQL on every execution, which cost a single advance more than the query.
_CHUNK = 500  # proposals per IN (...)


def _closing(*where: Any) -> Any:
    return (
        update(deadlines)
        .where(*where, deadlines.c.status == OPEN)
        .values(status=bindparam("new_status"), closed_at=bindparam("closed"))
    )


_CLOSE_OPEN_OF = _closing(deadlines.c.proposal_id.in_(bindparam("pids", expanding=True))).returning(
    deadlines.c.id
)
_CLOSE_OPEN_OF_ONE = Direct(
    _closing(deadlines.c.proposal_id == bindparam("pid")).returning(deadlines.c.id)
)
_MET = (
    deadlines.c.id,
    deadlines.c.proposal_id,
    deadlines.c.kind,
    deadlines.c.sequence,
    func.coalesce(deadlines.c.series_id, deadlines.c.id),
)
_MEET_OPEN_OF = _closing(
    deadlines.c.proposal_id.in_(bindparam("pids", expanding=True)),
    deadlines.c.kind.in_(bindparam("kinds", expanding=True)),
).returning(*_MET)
_MEET_OPEN_OF_ONE = Direct(
    _closing(
        deadlines.c.proposal_id == bindparam("pid"), deadlines.c.kind == bindparam("one_kind")
    ).returning(*_MET)
)


def _cancelling(*where: Any) -> Any:
    return (
        update(deadline_rungs)
        .where(*where, deadline_rungs.c.fired_at.is_(None), deadline_rungs.c.cancelled_at.is_(None))
        .values(cancelled_at=bindparam("cancelled"))
    )


_CANCEL = _cancelling(deadline_rungs.c.deadline_id.in_(bindparam("ids", expanding=True)))
_CANCEL_ONE = Direct(_cancelling(deadline_rungs.c.deadline_id == bindparam("one_id")))
_INSERT_DEADLINES = insert(deadlines).returning(deadlines.c.id, sort_by_parameter_order=True)
_INSERT_DEADLINE = Direct(insert(deadlines))  # one row: its key without RETURNING
_INSERT_RUNGS = Direct(insert(deadline_rungs))


@dataclass(frozen=True)
class OpenedDeadline:
    """A deadline a transition opened (what the notices of the transition show)."""

    id: int
    kind: str
    label: str
    due_at: datetime
    sequence: int


# What the last DeadlineEffect call of this thread (or task) left open: the ``applied``
# list it was called with, and per proposal whose open deadlines it knows completely, those
# deadlines soonest first. The notice effect, called next with the same list in the same
# transaction, takes them from here instead of querying them again.
_KNOWN: ContextVar[tuple[Sequence[Applied], dict[int, list[OpenedDeadline]]] | None] = ContextVar(
    "ruhrflow_opened_deadlines", default=None
)


def known_open_deadlines(applied: Sequence[Applied]) -> Mapping[int, list[OpenedDeadline]]:
    """The open deadlines after ``applied`` as the deadline effect left them, by proposal id.

    Only proposals whose open deadlines the effect knows completely are in it: after a state
    change (every older deadline was closed), and after a self-transition that reset every
    deadline rule of its state. Empty unless the effect has just run for this very list;
    a second call for the same list is empty too.
    """
    current = _KNOWN.get()
    if current is None or current[0] is not applied:
        return {}
    _KNOWN.set(None)  # handed over once; do not keep the batch alive after the transaction
    return current[1]


_MAX_DEADLINE_ID = select(func.coalesce(func.max(deadlines.c.id), 0))
_DEADLINES_AFTER = select(
    deadlines.c.id, deadlines.c.proposal_id, deadlines.c.kind, deadlines.c.entry_seq
).where(deadlines.c.id > bindparam("after"))


def _insert_many_sqlite(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert many deadlines on SQLite; return their ids in the order of ``rows``.

    One executemany on the cursor, then the new ids by their unique key (proposal, kind,
    entry): a writer holds SQLite's only write lock (``BEGIN IMMEDIATE``), so every row above
    the highest id before the insert is one of ours. Cheaper than RETURNING for thousands of
    rows (SQLAlchemy's insertmanyvalues), which PostgreSQL keeps.
    """
    after = int(conn.execute(_MAX_DEADLINE_ID).scalar_one())
    _INSERT_DEADLINE.executemany(conn, rows)
    found = {
        (pid, kind, entry): int(i)
        for i, pid, kind, entry in conn.execute(_DEADLINES_AFTER, {"after": after})
    }
    if len(found) != len(rows):
        raise RuntimeError(f"inserted {len(rows)} deadlines but found {len(found)} new ones")
    return [found[(r["proposal_id"], r["kind"], r["entry_seq"])] for r in rows]


class DeadlineEffect:
    """The transition effect: close the deadlines of the state left, open those entered.

    ``setting`` is the ``[process]`` section of the settings (for ``date_setting`` rules).
    All changes of one command are handled together: one ``UPDATE … RETURNING`` per status
    (closed on leaving a state, met on a reset), one UPDATE cancelling their pending rungs,
    one INSERT of the new deadlines and one of their rungs (per 500 proposals; a bulk
    advance of 10,000 proposals issued 3–4 statements per proposal before).
    """

    def __init__(self, setting: Mapping[str, Any] | None = None) -> None:
        self.setting: Mapping[str, Any] = dict(setting or {})

    def __call__(self, conn: Connection, applied: Sequence[Applied], now: datetime) -> None:
        _KNOWN.set(None)
        if len({change.proposal_id for change in applied}) != len(applied):
            for change in applied:  # one proposal twice: keep the order of its changes
                self._apply(conn, [change], now)
            return
        _KNOWN.set((applied, self._apply(conn, applied, now)))

    def _apply(
        self, conn: Connection, applied: Sequence[Applied], now: datetime
    ) -> dict[int, list[OpenedDeadline]]:
        # What each change closes: every open deadline when the state changes; on a
        # self-transition, the recurring deadlines its trigger resets (closed as met).
        close_all: set[int] = set()
        resets: dict[int, dict[str, DeadlineRule]] = {}
        opening: list[tuple[Applied, DeadlineRule, Mapping[str, Any], str | None]] = []
        complete: list[int] = []  # proposals whose open deadlines are exactly those opened now
        for change in applied:
            rules = rules_of(change.definition)
            data = change.proposal.get("data") or {}
            if change.from_state != change.to_state:
                close_all.add(change.proposal_id)
                complete.append(change.proposal_id)
                opening += [(change, r, data, None) for r in rules if r.state == change.to_state]
                continue
            every_rule_reset = True
            for rule in rules:
                if rule.state != change.to_state:
                    continue
                if change.trigger in rule.reset_by:
                    resets.setdefault(change.proposal_id, {})[rule.kind] = rule
                    opening.append((change, rule, data, rule.kind))
                else:
                    every_rule_reset = False
            if every_rule_reset:
                complete.append(change.proposal_id)
        # Closing returns what it closed (UPDATE … RETURNING): no SELECT before it.
        closed: list[int] = []
        met: list[int] = []
        sequences: dict[tuple[int, str], int] = {}  # (proposal, kind) -> highest period met
        series: dict[tuple[int, str], int] = {}  # (proposal, kind) -> first deadline of it
        leaving = sorted(close_all)
        closing = {"new_status": CLOSED, "closed": now}
        if len(leaving) == 1:
            closed += [i for (i,) in _CLOSE_OPEN_OF_ONE.all(conn, {"pid": leaving[0], **closing})]
        else:
            for i in range(0, len(leaving), _CHUNK):
                params = {"pids": leaving[i : i + _CHUNK], **closing}
                closed += conn.execute(_CLOSE_OPEN_OF, params).scalars()
        by_kinds: dict[tuple[str, ...], list[int]] = {}
        for proposal_id, reset in resets.items():
            by_kinds.setdefault(tuple(sorted(reset)), []).append(proposal_id)
        meeting = {"new_status": MET, "closed": now}
        for kinds, pids in by_kinds.items():
            for i in range(0, len(pids), _CHUNK):
                chunk = pids[i : i + _CHUNK]
                if len(chunk) == 1 and len(kinds) == 1:
                    found = _MEET_OPEN_OF_ONE.all(
                        conn, {"pid": chunk[0], "one_kind": kinds[0], **meeting}
                    )
                else:
                    params = {"pids": chunk, "kinds": list(kinds), **meeting}
                    found = [tuple(r) for r in conn.execute(_MEET_OPEN_OF, params)]
                for deadline_id, proposal_id, kind, sequence, first in found:
                    met.append(deadline_id)
                    slot = (proposal_id, kind)
                    sequences[slot] = max(sequences.get(slot, -1), int(sequence))
                    series[slot] = int(first)
        ended = closed + met
        if len(ended) == 1:
            _CANCEL_ONE.execute(conn, {"one_id": ended[0], "cancelled": now})
        else:
            for i in range(0, len(ended), _CHUNK):
                conn.execute(_CANCEL, {"ids": ended[i : i + _CHUNK], "cancelled": now})
        known: dict[int, list[OpenedDeadline]] = {pid: [] for pid in complete}
        for pid, deadline in self._open_all(conn, opening, sequences, series, now):
            if pid in known:
                known[pid].append(deadline)
        for opened in known.values():
            opened.sort(key=lambda d: (d.due_at, d.id))
        return known

    def _open_all(
        self,
        conn: Connection,
        opening: Sequence[tuple[Applied, DeadlineRule, Mapping[str, Any], str | None]],
        sequences: Mapping[tuple[int, str], int],
        series: Mapping[tuple[int, str], int],
        now: datetime,
    ) -> list[tuple[int, OpenedDeadline]]:
        """Insert the deadlines (and rungs) of ``opening``; return them by proposal id."""
        plans: list[PlannedDeadline] = []
        labels: list[str] = []
        rows: list[dict[str, Any]] = []
        # plan_deadline is pure; only a rule read from a field depends on the proposal, so
        # the proposals of one bulk command share one plan per (rule, time entered).
        shared: dict[tuple[int, datetime], PlannedDeadline | None] = {}
        for change, rule, data, reset in opening:
            if rule.field is None:
                slot = (id(rule), change.at)
                if slot not in shared:
                    shared[slot] = plan_deadline(rule, change.at, data, self.setting, now)
                planned = shared[slot]
            else:
                planned = plan_deadline(rule, change.at, data, self.setting, now)
            if planned is None:
                log.info("%s: no %s deadline (its date is not known)", change.key, rule.kind)
                continue
            sequence = 0 if reset is None else sequences.get((change.proposal_id, reset), -1) + 1
            plans.append(planned)
            labels.append(rule.label)
            rows.append(
                {
                    "proposal_id": change.proposal_id,
                    "kind": rule.kind,
                    "state": rule.state,
                    "entry_seq": change.seq,
                    "due_at": planned.due_at,
                    "status": OPEN,
                    "sequence": sequence,
                    "created_at": now,
                    "series_id": None if reset is None else series.get((change.proposal_id, reset)),
                }
            )
        if not rows:
            return []
        if len(rows) == 1:
            ids = [_INSERT_DEADLINE.lastrowid(conn, rows[0])]
        elif conn.dialect.name == "sqlite":
            ids = _insert_many_sqlite(conn, rows)
        else:
            ids = [int(i) for i in conn.execute(_INSERT_DEADLINES, rows).scalars().all()]
        rungs = [
            {"deadline_id": deadline_id, "rung": rung.name, "fire_at": fire_at}
            for deadline_id, planned in zip(ids, plans, strict=True)
            for rung, fire_at in planned.rungs
        ]
        if rungs:
            _INSERT_RUNGS.executemany(conn, rungs)
        return [
            (
                row["proposal_id"],
                OpenedDeadline(i, row["kind"], label, row["due_at"], row["sequence"]),
            )
            for i, row, label in zip(ids, rows, labels, strict=True)
        ]


# --- reading -------------------------------------------------------------------------------


def list_open_deadlines(
    engine: Engine,
    now: datetime,
    *,
    overdue: bool = False,
    due_until: datetime | None = None,
    lead: str | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (of the proposals' current states), soonest first, as plain rows.

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due between now
    and then; both together keep either.
    """
    from sqlalchemy import and_, func, or_

    from workflow.store.schema import proposals

    pending = (
        select(
            deadline_rungs.c.deadline_id,
            func.min(deadline_rungs.c.fire_at).label("next_at"),
        )
        .where(deadline_rungs.c.fired_at.is_(None), deadline_rungs.c.cancelled_at.is_(None))
        .group_by(deadline_rungs.c.deadline_id)
        .subquery()
    )
    stmt = (
        select(
            deadlines.c.id,
            deadlines.c.kind,
            deadlines.c.due_at,
            deadlines.c.sequence,
            proposals.c.key,
            proposals.c.title,
            proposals.c.lead,
            proposals.c.state,
            proposals.c.definition_id,
            pending.c.next_at,
        )
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .join(pending, pending.c.deadline_id == deadlines.c.id, isouter=True)
        .where(deadlines.c.status == OPEN, deadlines.c.state == proposals.c.state)
        .order_by(deadlines.c.due_at, proposals.c.key)
    )
    windows = []
    if overdue:
        windows.append(deadlines.c.due_at <= now)
    if due_until is not None:
        windows.append(and_(deadlines.c.due_at > now, deadlines.c.due_at <= due_until))
    if windows:
        stmt = stmt.where(or_(*windows))
    if lead is not None:
        stmt = stmt.where(func.upper(proposals.c.lead) == lead.upper())
    rows = []
    with engine.store.read() as conn:
        for r in conn.execute(stmt).mappings():
            definition = engine.machines.get(conn, r["definition_id"]).definition
            rule = rule_of(definition, r["kind"])
            next_rung = None
            if rule is not None and r["next_at"] is not None:
                next_rung = next(
                    (
                        rung.name
                        for rung in rule.rungs
                        if anchor(rung.fire_date(local_date(r["due_at"])), rule.at) == r["next_at"]
                    ),
                    None,
                )
            rows.append(
                {
                    "key": r["key"],
                    "lead": r["lead"],
                    "state": r["state"],
                    "deadline": r["kind"],
                    "label": rule.label if rule else r["kind"],
                    "due_at": r["due_at"],
                    "overdue": r["due_at"] <= now,
                    "next_rung": next_rung,
                    "next_at": r["next_at"],
                    "period": r["sequence"],
                }
            )
    return rows
