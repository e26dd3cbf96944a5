"""Deadline rules of a definition: parsed and validated with it, planned without a database.

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

Rules are part of :class:`~workflow.process.definition.Definition` (``deadline_rules``):
``parse_definition`` parses them with the rest of the file, so nothing re-reads the YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from workflow.errors import Problem
from workflow.process.calendar import (
    Duration,
    anchor,
    local_date,
    parse_duration,
    parse_local_time,
    shift,
)

if TYPE_CHECKING:
    from workflow.process.definition import Definition

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


# The days a deadline may fall on (the days ``--now`` takes, workflow/cli/context.py).
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


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


def label_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot be a label (a control or bidi character, ESC or U+202E; a line
    break unless ``multiline``), or None."""
    from workflow.errors import InvalidInput
    from workflow.inputs import check_text

    try:
        check_text(text, "the label", multiline=multiline)
    except InvalidInput as exc:
        return str(exc).removeprefix("the label ")
    return None


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
            import difflib  # only for a wrong key (a cached definition never gets here)

            near = difflib.get_close_matches(str(key), sorted(_RULE_KEYS), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            report(f"{path}.{key}", f"unknown key ({hint}allowed: {', '.join(sorted(_RULE_KEYS))})")
    before_count = len(report.problems)
    state = raw.get("state")
    if not isinstance(state, str) or state not in d.states:
        report(f"{path}.state", f"must name a state of the definition, not {state!r}")
    elif d.states[state].final:
        report(f"{path}.state", f"{state!r} is final: a deadline there could never be met")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        report(f"{path}.label", "must be a non-empty string")
    elif (bad := label_problem(label)) is not None:
        report(f"{path}.label", bad)
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
        elif not EARLIEST <= fixed <= LATEST:  # 0001-01-01 overflowed every proposal add
            report(f"{path}.date", f"must lie between {EARLIEST} and {LATEST}, not {fixed}")
            fixed = None
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


def parse_deadline_rules(d: Definition) -> tuple[tuple[DeadlineRule, ...], list[Problem]]:
    """The rules of the ``deadlines:`` section of ``d`` and every problem found in it.

    Called by ``parse_definition`` once the states and transitions are sound; a rule with a
    problem is left out (the definition is refused anyway).
    """
    report = _Report(d)
    raw = d.raw.get("deadlines")
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        report("deadlines", "must be a mapping of deadline names to rules")
        return (), report.problems
    rules = [_parse_rule(str(kind), value, d, report) for kind, value in raw.items()]
    return tuple(r for r in rules if r is not None), report.problems


def rules_of(definition: Definition) -> tuple[DeadlineRule, ...]:
    """The deadline rules of a definition (parsed with it)."""
    return definition.deadline_rules


def rule_of(definition: Definition, kind: str) -> DeadlineRule | None:
    """The rule called ``kind``."""
    return next((r for r in definition.deadline_rules if r.kind == kind), None)


# --- planning --------------------------------------------------------------------------------


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


class DeadlinePlans:
    """:func:`plan_deadline`, with a rule's due time and rung times remembered per due day.

    They depend on nothing but the rule and its local due day (the rules are a definition's,
    immutable: kept and compared by identity), so every proposal that enters a state on the
    same day, or reports progress then, shares them; only the reminders already past at
    ``now`` are left out each time. One per deadline effect, for the life of its runtime.
    """

    __slots__ = ("_plans",)

    def __init__(self) -> None:
        # (id(rule), due day) -> (rule, due time, rungs with their times)
        self._plans: dict[
            tuple[int, date], tuple[DeadlineRule, datetime, tuple[tuple[Rung, datetime], ...]]
        ] = {}

    def plan(
        self,
        rule: DeadlineRule,
        entered: datetime,
        data: Mapping[str, Any],
        setting: Mapping[str, Any],
        now: datetime,
    ) -> PlannedDeadline | None:
        """What :func:`plan_deadline` gives for these arguments."""
        day = rule.due_day(entered, data, setting)
        if day is None:
            return None
        slot = (id(rule), day)
        found = self._plans.get(slot)
        if found is None or found[0] is not rule:
            if len(self._plans) >= 4096:
                self._plans.clear()
            timed = tuple((rung, anchor(rung.fire_date(day), rule.at)) for rung in rule.rungs)
            found = self._plans[slot] = (rule, rule.due_at(day), timed)
        rungs = tuple(r for r in found[2] if r[0].kind != REMINDER or r[1] > now)
        return PlannedDeadline(rule, found[1], rungs)
