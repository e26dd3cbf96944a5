"""The sections of a definition file, each parsed and checked on its own.

A :class:`Checker` collects every problem at the line of its key path, so ``ruhrflow
definition check`` lists them all in one go; each ``parse_*`` function reads one section
(``states:``, ``fields:``, ``transitions:``, ``permissions:``, ``notices:``, ``guards:``, …)
under the rules of the file's format (a key a later format added gets its default,
:mod:`workflow.process.formats`). :func:`workflow.process.definition.parse_definition`
puts them together.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from workflow.errors import Problem
from workflow.process.deadline_rules import label_problem
from workflow.process.formats import default_not_future, default_public
from workflow.process.guards import REGISTRY  # guards live in one registry, referenced by name
from workflow.process.notices import (
    DIGEST_ROLES,
    NOTICE_EVENTS,
    NOTICE_ROLES,
    ROUTING_BEFORE_DECLARED,
    TEMPLATE_EVENTS,
    NoticeRule,
)
from workflow.process.parts import (
    FIELD_TYPES,
    PUBLIC_GROUPS,
    PUBLIC_ONGOING,
    FieldDef,
    StateDef,
    TransitionDef,
)

TOP_KEYS = {
    "name", "version", "title", "initial", "roles", "phases", "handlungsfelder", "states",
    "fields", "transitions", "permissions", "statement_states", "deadlines", "notices",
    "format", "guards",
}  # fmt: skip
STATE_KEYS = {"label", "phase", "final", "description", "public"}
FIELD_KEYS = {"type", "label", "min", "max", "not_future"}
TRANSITION_KEYS = {"trigger", "from", "to", "label", "roles", "guards", "requires"}
NOTICE_KEYS = {"event", "template", "to", "trigger", "state"}


class Checker:
    """Collects the problems of one file, each at the line of its key path."""

    def __init__(self, file: str, lines: Mapping[str, int], problems: list[Problem]) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems

    def problem(self, path: str, message: str) -> None:
        """Record ``message`` at ``path``'s line (or its nearest enclosing key's)."""
        line = self.lines.get(path)
        if line is None:  # report at the nearest enclosing key that has a line
            parent = path
            while line is None and parent:
                parent = parent.rsplit(".", 1)[0] if "." in parent else ""
                line = self.lines.get(parent)
        self.problems.append(Problem(self.file, line, path, message))

    def mapping(self, value: Any, path: str, *, required: bool = True) -> dict[Any, Any]:
        """``value`` as a mapping (empty, with a problem, when it is none)."""
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {kind(value)}")
            return {}
        return value

    def text(self, value: Any, path: str, *, required: bool = True, multiline: bool = False) -> str:
        """``value`` as a non-empty label without control characters (else "")."""
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string, not {kind(value)}")
            return ""
        if (bad := label_problem(value, multiline=multiline)) is not None:  # ESC, U+202E …
            self.problem(path, bad)
            return ""
        return value

    def names(self, value: Any, path: str) -> tuple[str, ...]:
        """A name or a list of names as a tuple."""
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, "must be a name or a list of names")
            return ()
        return tuple(value)

    def unknown_keys(self, value: Mapping[Any, Any], allowed: set[str], path: str) -> None:
        """A problem for every key of ``value`` not in ``allowed``, with the nearest name."""
        for key in value:
            if key not in allowed:
                sub = f"{path}.{key}" if path else str(key)
                near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                self.problem(sub, f"unknown key ({hint}allowed: {', '.join(sorted(allowed))})")


def kind(value: Any) -> str:
    """How a problem names a value's type (``nothing`` for a missing one)."""
    return "nothing" if value is None else type(value).__name__


def parse_header(c: Checker, top: Mapping[str, Any]) -> tuple[str, int, str]:
    """``name``, ``version`` (a positive integer; 0 after a problem) and ``title``."""
    name = c.text(top.get("name"), "name")
    version = top.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.problem("version", f"must be a positive integer, not {version!r}")
        version = 0
    return name, version, c.text(top.get("title"), "title")


def parse_labels(c: Checker, top: Mapping[str, Any], section: str) -> dict[str, str]:
    """A section of id → label (``roles:``, ``phases:``)."""
    raw = c.mapping(top.get(section), section)
    return {str(k): c.text(v, f"{section}.{k}") for k, v in raw.items()}


def parse_handlungsfelder(c: Checker, top: Mapping[str, Any]) -> dict[int, str]:
    """``handlungsfelder:`` numbered 1, 2, … with their names."""
    handlungsfelder: dict[int, str] = {}
    for k, v in c.mapping(top.get("handlungsfelder"), "handlungsfelder").items():
        if not isinstance(k, int):
            c.problem(f"handlungsfelder.{k}", "must be numbered 1, 2, …")
        else:
            handlungsfelder[k] = c.text(v, f"handlungsfelder.{k}")
    return handlungsfelder


def parse_states(
    c: Checker, top: Mapping[str, Any], phases: Mapping[str, str], fmt: int
) -> dict[str, StateDef]:
    """``states:`` — label, phase, final, description and public status word (format 1:
    the public word's default)."""
    states: dict[str, StateDef] = {}
    for sid, sraw in c.mapping(top.get("states"), "states").items():
        path = f"states.{sid}"
        s = c.mapping(sraw, path)
        c.unknown_keys(s, STATE_KEYS, path)
        phase = c.text(s.get("phase"), f"{path}.phase")
        if phase and phases and phase not in phases:
            c.problem(f"{path}.phase", f"unknown phase {phase!r} (known: {', '.join(phases)})")
        final = s.get("final", False)
        if not isinstance(final, bool):
            c.problem(f"{path}.final", "must be true or false")
            final = False
        public = _public(c, s, str(sid), path, final, fmt)
        states[str(sid)] = StateDef(
            id=str(sid),
            label=c.text(s.get("label"), f"{path}.label"),
            phase=phase,
            final=final,
            description=c.text(
                s.get("description"), f"{path}.description", required=False, multiline=True
            ),
            public=public,
        )
    return states


def _public(c: Checker, s: Mapping[str, Any], sid: str, path: str, final: bool, fmt: int) -> str:
    if fmt < 2 and s.get("public") is None:
        return default_public(sid, final=final)
    public = c.text(s.get("public"), f"{path}.public")
    if public and public not in PUBLIC_GROUPS:
        known = ", ".join(PUBLIC_GROUPS)
        c.problem(f"{path}.public", f"must be one of {known}, not {public!r}")
    elif final and public in PUBLIC_ONGOING:
        c.problem(f"{path}.public", f"{public!r} is an ongoing status, but the state is final")
    return public


def parse_initial(c: Checker, top: Mapping[str, Any], states: Mapping[str, StateDef]) -> str:
    """``initial:`` — one of the states."""
    initial = c.text(top.get("initial"), "initial")
    if initial and states and initial not in states:
        c.problem("initial", f"unknown state {initial!r}")
    return initial


def parse_fields(c: Checker, top: Mapping[str, Any]) -> dict[str, FieldDef]:
    """``fields:`` — type, label, bounds and ``not_future`` (its default before format 3)."""
    fields: dict[str, FieldDef] = {}
    for fname, fraw in c.mapping(top.get("fields"), "fields", required=False).items():
        path = f"fields.{fname}"
        f = c.mapping(fraw, path)
        c.unknown_keys(f, FIELD_KEYS, path)
        ftype = f.get("type")
        if ftype not in FIELD_TYPES:
            c.problem(f"{path}.type", f"must be one of {', '.join(FIELD_TYPES)}, not {ftype!r}")
        low, high = _bounds(c, f, path)
        not_future = _not_future(c, f, str(fname), ftype, path)
        fields[str(fname)] = FieldDef(
            name=str(fname),
            type=str(ftype),
            label=c.text(f.get("label"), f"{path}.label"),
            min=low,
            max=high,
            not_future=not_future,
        )
    return fields


def _bounds(c: Checker, f: Mapping[str, Any], path: str) -> tuple[float | None, float | None]:
    bounds = [f.get("min"), f.get("max")]
    for i, bound_name in enumerate(("min", "max")):
        if bounds[i] is not None and not _finite_number(bounds[i]):
            c.problem(f"{path}.{bound_name}", "must be a finite number")
            bounds[i] = None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        c.problem(f"{path}.min", f"{bounds[0]} is greater than max {bounds[1]}")
    low, high = bounds
    return (
        low if isinstance(low, int | float) else None,
        high if isinstance(high, int | float) else None,
    )


def _not_future(c: Checker, f: Mapping[str, Any], name: str, ftype: Any, path: str) -> bool:
    not_future = f.get("not_future")
    if not_future is None:  # a later key: its default (formats.default_not_future)
        return default_not_future(name, str(ftype))
    if not isinstance(not_future, bool):
        c.problem(f"{path}.not_future", f"must be true or false, not {not_future!r}")
        return False
    if not_future and ftype != "date":
        c.problem(f"{path}.not_future", f"only a date can lie in the future, not {ftype!r}")
    return not_future


def raw_transitions(c: Checker, top: Mapping[str, Any]) -> list[Any]:
    """The ``transitions:`` list as written (empty, with a problem, when it is no list)."""
    raw = top.get("transitions")
    if not isinstance(raw, list):
        c.problem("transitions", f"must be a list, not {kind(raw)}")
        return []
    return raw


def parse_transitions(
    c: Checker,
    raw: Sequence[Any],
    states: Mapping[str, StateDef],
    roles: Mapping[str, str],
    fields: Mapping[str, FieldDef],
) -> list[TransitionDef]:
    """``transitions:`` — trigger, sources, destination, roles, guards and required fields,
    each checked against the states, roles, guards and fields it names."""
    transitions: list[TransitionDef] = []
    for i, traw in enumerate(raw):
        path = f"transitions[{i}]"
        t = c.mapping(traw, path)
        c.unknown_keys(t, TRANSITION_KEYS, path)
        trigger = c.text(t.get("trigger"), f"{path}.trigger")
        if trigger and not trigger.isidentifier():
            c.problem(f"{path}.trigger", f"{trigger!r} must be a lower-case identifier")
        sources, dest = _edge(c, t, path, states)
        t_roles = c.names(t.get("roles"), f"{path}.roles")
        if not t_roles:
            c.problem(f"{path}.roles", "names no role: nobody could fire this trigger")
        for r in t_roles:
            if r not in roles:
                c.problem(f"{path}.roles", f"unknown role {r!r} (known: {', '.join(roles)})")
        guards = c.names(t.get("guards"), f"{path}.guards")
        for g in guards:
            if g not in REGISTRY:
                c.problem(f"{path}.guards", f"unknown guard {g!r} (known: {', '.join(REGISTRY)})")
        requires = c.names(t.get("requires"), f"{path}.requires")
        for r in requires:
            if r != "comment" and r not in fields:
                c.problem(f"{path}.requires", f"unknown field {r!r}")
        label = c.text(t.get("label"), f"{path}.label", required=False) or trigger
        transitions.append(TransitionDef(trigger, sources, dest, label, t_roles, guards, requires))
    return transitions


def _edge(
    c: Checker, t: Mapping[str, Any], path: str, states: Mapping[str, StateDef]
) -> tuple[tuple[str, ...], str]:
    """A transition's source states and destination, checked against the states."""
    sources = c.names(t.get("from"), f"{path}.from")
    if not sources:
        c.problem(f"{path}.from", "names no source state")
    dest = c.text(t.get("to"), f"{path}.to")
    for source in sources:
        if source not in states:
            c.problem(f"{path}.from", f"unknown state {source!r}")
        elif states[source].final:
            c.problem(f"{path}.from", f"{source!r} is final: nothing may leave it")
    if dest and dest not in states:
        c.problem(f"{path}.to", f"unknown state {dest!r}")
    return sources, dest


def parse_permissions(
    c: Checker, top: Mapping[str, Any], roles: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """``permissions:`` — the roles that may do each action that is no transition (an
    action a later format added and the file leaves out: ``Definition.permitted``'s default)."""
    permissions: dict[str, tuple[str, ...]] = {}
    for action, praw in c.mapping(top.get("permissions"), "permissions", required=False).items():
        path = f"permissions.{action}"
        permitted = c.names(praw, path)
        for r in permitted:
            if r not in roles:
                c.problem(path, f"unknown role {r!r}")
        permissions[str(action)] = permitted
    return permissions


def parse_statement_states(
    c: Checker, top: Mapping[str, Any], states: Mapping[str, StateDef]
) -> tuple[str, ...]:
    """``statement_states:`` — the states in which statements are recorded."""
    statement_states = c.names(top.get("statement_states"), "statement_states")
    for state_id in statement_states:
        if state_id not in states:
            c.problem("statement_states", f"unknown state {state_id!r}")
    return statement_states


def parse_notices(
    c: Checker,
    top: Mapping[str, Any],
    roles: Mapping[str, str],
    states: Mapping[str, StateDef],
    transitions: Sequence[TransitionDef],
) -> tuple[NoticeRule, ...]:
    """The ``notices:`` list; none declared (absent or ``{}``): the routing of version 2."""
    raw = top.get("notices")
    if raw is None or raw == {}:
        return ROUTING_BEFORE_DECLARED
    if not isinstance(raw, list):
        c.problem("notices", f"must be a list of notices, not {kind(raw)}")
        return ()
    triggers = {t.trigger for t in transitions}
    rules: list[NoticeRule] = []
    for i, nraw in enumerate(raw):
        path = f"notices[{i}]"
        n = c.mapping(nraw, path)
        if not n:
            continue
        c.unknown_keys(n, NOTICE_KEYS, path)
        event = c.text(n.get("event"), f"{path}.event")
        if event and event not in NOTICE_EVENTS:
            c.problem(
                f"{path}.event", f"unknown event {event!r} (known: {', '.join(NOTICE_EVENTS)})"
            )
        template = c.text(n.get("template"), f"{path}.template")
        if template and template not in TEMPLATE_EVENTS:
            known = ", ".join(TEMPLATE_EVENTS)
            c.problem(f"{path}.template", f"unknown template {template!r} (known: {known})")
        elif template and event in NOTICE_EVENTS and event not in TEMPLATE_EVENTS[template]:
            c.problem(f"{path}.template", f"template {template!r} is not for a {event} event")
        to = c.names(n.get("to"), f"{path}.to")
        if not to:
            c.problem(f"{path}.to", "names no role: nobody would be told")
        for r in to:
            if r not in roles:
                c.problem(f"{path}.to", f"unknown role {r!r} (known: {', '.join(roles)})")
            elif r not in NOTICE_ROLES:
                c.problem(
                    f"{path}.to", f"role {r!r} has no address (roles: {', '.join(NOTICE_ROLES)})"
                )
            elif event == "digest" and r not in DIGEST_ROLES:
                c.problem(f"{path}.to", "a digest goes to the lead ministry of its proposals")
        trigger = n.get("trigger")
        if trigger is not None:
            trigger = c.text(trigger, f"{path}.trigger")
            if event != "transition":
                c.problem(f"{path}.trigger", "only a transition event names a trigger")
            elif trigger and trigger not in triggers:
                c.problem(f"{path}.trigger", f"unknown trigger {trigger!r}")
        state = n.get("state")
        if state is not None:
            state = c.text(state, f"{path}.state")
            if event != "enter":
                c.problem(f"{path}.state", "only an enter event names a state")
            elif state and state not in states:
                c.problem(f"{path}.state", f"unknown state {state!r}")
        elif event == "enter":
            c.problem(f"{path}.state", "an enter event names the state entered")
        rules.append(NoticeRule(event, template, to, trigger or None, state or None))
    return tuple(rules)


def parse_guard_texts(
    c: Checker, top: Mapping[str, Any], transitions: Sequence[TransitionDef], fmt: int
) -> dict[str, str]:
    """``guards:`` — what each guard the transitions name requires, in German (shown where a
    step is blocked). From format 3 on, every guard a transition names needs its text."""
    texts: dict[str, str] = {}
    for name, raw in c.mapping(top.get("guards"), "guards", required=False).items():
        if name not in REGISTRY:
            c.problem(f"guards.{name}", f"unknown guard {name!r} (known: {', '.join(REGISTRY)})")
            continue
        texts[str(name)] = c.text(raw, f"guards.{name}")
    if fmt >= 3:
        for i, t in enumerate(transitions):
            for g in t.guards:
                if g in REGISTRY and g not in texts:
                    needs = f"guard {g!r} needs its German text under guards: (format 3)"
                    c.problem(f"transitions[{i}].guards", needs)
    return texts


def _finite_number(value: Any) -> bool:
    """An int or float that is not a boolean, NaN or infinite (``.nan`` bounds)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
