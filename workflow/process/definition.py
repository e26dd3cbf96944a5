"""Process definitions: load a YAML file, validate it, and answer questions about it.

Every problem is reported with the file, the line and the key it concerns
(``definitions/ruhr_konferenz.yaml:42: transitions[3].guards: unknown guard 'x'``).
Loading collects all problems before it fails, so ``ruhrflow definition check``
can list them in one go.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from workflow.errors import InvalidDefinition, InvalidInput, Problem
from workflow.inputs import read_file_bytes
from workflow.process.deadline_rules import DeadlineRule, label_problem, parse_deadline_rules
from workflow.process.formats import (
    DEFAULT_PERMISSIONS,
    default_not_future,
    default_public,
    resolve,
)
from workflow.process.german import rung_label
from workflow.process.guards import REGISTRY  # guards live in one registry, referenced by name
from workflow.process.notices import (
    DIGEST_ROLES,
    NOTICE_EVENTS,
    NOTICE_ROLES,
    ROUTING_BEFORE_DECLARED,
    TEMPLATE_EVENTS,
    NoticeRule,
)

FIELD_TYPES = ("date", "text", "integer", "decimal")
# The status words of the published Fortschrittsberichte (the four counted groups of the
# projects decided by the cabinet), then the two words for what they do not count.
PUBLIC_COUNTED = ("in Prüfung", "in Umsetzung", "abgeschlossen", "nicht weiterverfolgt")
PUBLIC_GROUPS = ("in Vorbereitung", *PUBLIC_COUNTED, "nicht gezählt")
_PUBLIC_ONGOING = ("in Vorbereitung", "in Prüfung", "in Umsetzung")


@dataclass(frozen=True)
class StateDef:
    """One state of the process."""

    id: str
    label: str
    phase: str
    final: bool = False
    description: str = ""
    public: str = ""  # its status word in the public reports (one of PUBLIC_GROUPS)


@dataclass(frozen=True)
class FieldDef:
    """A value a transition may require (``--set decision_date=2019-11-05``)."""

    name: str
    type: str
    label: str
    min: float | None = None
    max: float | None = None
    not_future: bool = False  # a date after the engine's day is refused (a decision's date)


@dataclass(frozen=True)
class TransitionDef:
    """One trigger leading from one or more states to a destination."""

    trigger: str
    sources: tuple[str, ...]
    dest: str
    label: str
    roles: tuple[str, ...]
    guards: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Definition:
    """A validated process definition (immutable; one per name and version)."""

    name: str
    version: int
    title: str
    initial: str
    roles: Mapping[str, str]
    phases: Mapping[str, str]
    states: Mapping[str, StateDef]
    fields: Mapping[str, FieldDef]
    transitions: tuple[TransitionDef, ...]
    permissions: Mapping[str, tuple[str, ...]]
    handlungsfelder: Mapping[int, str]
    statement_states: tuple[str, ...]
    raw: Mapping[str, Any]
    lines: Mapping[str, int]
    source_text: str
    path: str
    content_hash: str = field(init=False)
    deadline_rules: tuple[DeadlineRule, ...] = ()
    # who is told what (workflow/process/notices.py); without a `notices:` section, the
    # routing the versions before declared notices ran with
    notices: tuple[NoticeRule, ...] = ROUTING_BEFORE_DECLARED
    # the format the file was read under (workflow/process/formats.py), and whether it said so
    file_format: int = 1
    format_declared: bool = False
    # what each guard requires, in German (``guards:``; format 3, the registry's text before)
    guard_texts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()
        object.__setattr__(self, "content_hash", digest)

    def triggers_from(self, state: str) -> list[TransitionDef]:
        """Every transition that may leave ``state``, in definition order."""
        return [t for t in self.transitions if state in t.sources]

    @cached_property
    def _trigger_labels(self) -> dict[str, str]:
        # built on first use (the definition is immutable); a trigger's first transition wins
        labels: dict[str, str] = {}
        for t in self.transitions:
            labels.setdefault(t.trigger, t.label)
        return labels

    def trigger_label(self, trigger: str) -> str:
        """The German label of ``trigger``: its first transition's; for a rung
        (``consultation.remind-7d``, as the history records it) what it is, when and of which
        deadline; otherwise the trigger itself."""
        found = self._trigger_labels.get(trigger)
        if found is not None:
            return found
        kind, _, rung = trigger.partition(".")
        rule = next((r for r in self.deadline_rules if r.kind == kind), None)
        return rung_label(rule.label, rung) if rule is not None and rung else trigger

    def action_labels(self) -> dict[str, str]:
        """Every trigger the history may record under this definition — transitions, then
        each deadline's rungs — with its German label (the audit page's filter)."""
        labels = dict(self._trigger_labels)
        for rule in self.deadline_rules:
            for r in rule.rungs:
                labels[f"{rule.kind}.{r.name}"] = rung_label(rule.label, r.name)
        return labels

    def transition(self, trigger: str, state: str) -> TransitionDef | None:
        """The transition ``trigger`` fires from ``state``, or None."""
        for t in self.transitions:
            if t.trigger == trigger and state in t.sources:
                return t
        return None

    def state_requires(self, state: str) -> tuple[str, ...]:
        """The fields every way into ``state`` requires (what a proposal there must hold).

        The intersection over the transitions entering ``state`` from another state (a
        self-transition such as ``report_progress`` enters nothing); the comment is no field.
        The initial state, and a state no transition enters, require nothing.
        """
        entering = [t for t in self.transitions if t.dest == state and state not in t.sources]
        if state == self.initial or not entering:
            return ()
        common = set(entering[0].requires)
        for t in entering[1:]:
            common &= set(t.requires)
        return tuple(f for f in entering[0].requires if f in common and f != "comment")

    def guard_text(self, name: str) -> str:
        """What guard ``name`` requires, in German: the definition's ``guards:`` text, else the
        registry's (a definition of format 1 or 2 names none)."""
        found = self.guard_texts.get(name)
        if found:
            return found
        registered = REGISTRY.get(name)
        return registered.text_de if registered is not None and registered.text_de else name

    def permitted(self, action: str) -> tuple[str, ...]:
        """The roles that may do ``action`` (``create``, ``record_statement``, …): as the file
        says, or — for a permission a later format added — its documented default."""
        found = self.permissions.get(action)
        return found if found is not None else DEFAULT_PERMISSIONS.get(action, ())

    def is_final(self, state: str) -> bool:
        """True when ``state`` is a final state."""
        return self.states[state].final

    def line_of(self, path: str) -> int | None:
        """The line (1-based) of a key path such as ``states.idea.label``."""
        return self.lines.get(path)

    def state_label(self, state: str) -> str:
        """The German label of a state, or its id when unknown."""
        s = self.states.get(state)
        return s.label if s else state


# --- YAML with line numbers ------------------------------------------------------------------


class _Refused(Exception):
    """A YAML construct the reader will not turn into values."""

    def __init__(self, node: yaml.Node, path: str, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.path = path
        self.message = message


class _Reader:
    """Turns a composed YAML node tree into Python values, remembering key lines."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()

    def value(self, node: yaml.Node, path: str) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            # A node met twice is an alias: a definition has no use for them, and expanding
            # nested aliases ("billion laughs") would cost exponential time.
            if id(node) in self._seen:
                raise _Refused(
                    node, path or "(document)", "YAML anchors and aliases are not allowed"
                )
            self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Refused(key_node, path or "(document)", "a key must be a plain name")
                key = self._constructor.construct_object(key_node, deep=True)
                sub = f"{path}.{key}" if path else str(key)
                if key in result:
                    self.problems.append(
                        Problem(self.file, key_node.start_mark.line + 1, sub, "duplicate key")
                    )
                self.lines[sub] = key_node.start_mark.line + 1
                result[key] = self.value(value_node, sub)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # a date that does not exist: 2019-02-30
            message = f"{node.value!r} is no valid value: {exc}"
            raise _Refused(node, path or "(document)", message) from None


def _one_line(value: object) -> str:
    """An error text on one line (PyYAML's own messages span several)."""
    return " ".join(str(value).split())


# libyaml's composer when PyYAML has it (the same nodes and marks, ~10× faster: a cold
# `ruhrflow advance` parses the stored definition once), else the pure-Python one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose(text: str, file: str) -> tuple[Any, dict[str, int], list[Problem]]:
    reader = _Reader(file)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InvalidDefinition(
            [Problem(file, line, "(yaml)", f"not valid YAML: {_one_line(exc.problem or exc)}")]
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidDefinition(
            [Problem(file, None, "(yaml)", f"not valid YAML: {_one_line(exc)}")]
        ) from None
    if node is None:
        raise InvalidDefinition([Problem(file, 1, "(document)", "the file is empty")])
    try:
        data = reader.value(node, "")
    except _Refused as exc:
        raise InvalidDefinition([Problem(file, exc.line, exc.path, exc.message)]) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise InvalidDefinition(
            [Problem(file, mark.line + 1 if mark else None, "(yaml)", str(exc.problem))]
        ) from None
    return data, reader.lines, reader.problems


# --- validation -------------------------------------------------------------------------------

_TOP_KEYS = {
    "name", "version", "title", "initial", "roles", "phases", "handlungsfelder", "states",
    "fields", "transitions", "permissions", "statement_states", "deadlines", "notices",
    "format", "guards",
}  # fmt: skip
_STATE_KEYS = {"label", "phase", "final", "description", "public"}
_FIELD_KEYS = {"type", "label", "min", "max", "not_future"}
_TRANSITION_KEYS = {"trigger", "from", "to", "label", "roles", "guards", "requires"}
_NOTICE_KEYS = {"event", "template", "to", "trigger", "state"}


class _Checker:
    def __init__(self, file: str, lines: Mapping[str, int], problems: list[Problem]) -> None:
        self.file = file
        self.lines = lines
        self.problems = problems

    def problem(self, path: str, message: str) -> None:
        line = self.lines.get(path)
        if line is None:  # report at the nearest enclosing key that has a line
            parent = path
            while line is None and parent:
                parent = parent.rsplit(".", 1)[0] if "." in parent else ""
                line = self.lines.get(parent)
        self.problems.append(Problem(self.file, line, path, message))

    def mapping(self, value: Any, path: str, *, required: bool = True) -> dict[Any, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping, not {_kind(value)}")
            return {}
        return value

    def text(self, value: Any, path: str, *, required: bool = True, multiline: bool = False) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"must be a non-empty string, not {_kind(value)}")
            return ""
        if (bad := label_problem(value, multiline=multiline)) is not None:  # ESC, U+202E …
            self.problem(path, bad)
            return ""
        return value

    def names(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, "must be a name or a list of names")
            return ()
        return tuple(value)

    def unknown_keys(self, value: Mapping[Any, Any], allowed: set[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                sub = f"{path}.{key}" if path else str(key)
                near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                self.problem(sub, f"unknown key ({hint}allowed: {', '.join(sorted(allowed))})")


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def parse_definition(text: str, file: str = "<definition>") -> Definition:
    """Parse and validate definition text; raise InvalidDefinition listing every problem."""

    data, lines, problems = _compose(text, file)
    c = _Checker(file, lines, problems)
    top = c.mapping(data, "(document)")
    c.unknown_keys(top, _TOP_KEYS, "")
    # read under the rules of the format it was written for (a key added later has a default)
    fmt = resolve(top)
    for key_path, message in fmt.problems:
        c.problem(key_path, message)

    name = c.text(top.get("name"), "name")
    version = top.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.problem("version", f"must be a positive integer, not {version!r}")
        version = 0
    title = c.text(top.get("title"), "title")

    roles = {
        str(k): c.text(v, f"roles.{k}") for k, v in c.mapping(top.get("roles"), "roles").items()
    }
    phases = {
        str(k): c.text(v, f"phases.{k}") for k, v in c.mapping(top.get("phases"), "phases").items()
    }
    hf_raw = c.mapping(top.get("handlungsfelder"), "handlungsfelder")
    handlungsfelder: dict[int, str] = {}
    for k, v in hf_raw.items():
        if not isinstance(k, int):
            c.problem(f"handlungsfelder.{k}", "must be numbered 1, 2, …")
        else:
            handlungsfelder[k] = c.text(v, f"handlungsfelder.{k}")

    states: dict[str, StateDef] = {}
    for sid, sraw in c.mapping(top.get("states"), "states").items():
        path = f"states.{sid}"
        s = c.mapping(sraw, path)
        c.unknown_keys(s, _STATE_KEYS, path)
        phase = c.text(s.get("phase"), f"{path}.phase")
        if phase and phases and phase not in phases:
            c.problem(f"{path}.phase", f"unknown phase {phase!r} (known: {', '.join(phases)})")
        final = s.get("final", False)
        if not isinstance(final, bool):
            c.problem(f"{path}.final", "must be true or false")
            final = False
        if fmt.number < 2 and s.get("public") is None:
            public = default_public(str(sid), final=final)
        else:
            public = c.text(s.get("public"), f"{path}.public")
        if public and public not in PUBLIC_GROUPS:
            known = ", ".join(PUBLIC_GROUPS)
            c.problem(f"{path}.public", f"must be one of {known}, not {public!r}")
        elif final and public in _PUBLIC_ONGOING:
            c.problem(f"{path}.public", f"{public!r} is an ongoing status, but the state is final")
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

    initial = c.text(top.get("initial"), "initial")
    if initial and states and initial not in states:
        c.problem("initial", f"unknown state {initial!r}")

    fields: dict[str, FieldDef] = {}
    for fname, fraw in c.mapping(top.get("fields"), "fields", required=False).items():
        path = f"fields.{fname}"
        f = c.mapping(fraw, path)
        c.unknown_keys(f, _FIELD_KEYS, path)
        ftype = f.get("type")
        if ftype not in FIELD_TYPES:
            c.problem(f"{path}.type", f"must be one of {', '.join(FIELD_TYPES)}, not {ftype!r}")
        bounds = [f.get("min"), f.get("max")]
        for i, bound_name in enumerate(("min", "max")):
            if bounds[i] is not None and not _finite_number(bounds[i]):
                c.problem(f"{path}.{bound_name}", "must be a finite number")
                bounds[i] = None
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            c.problem(f"{path}.min", f"{bounds[0]} is greater than max {bounds[1]}")
        not_future = f.get("not_future")
        if not_future is None:  # a later key: its default (formats.default_not_future)
            not_future = default_not_future(str(fname), str(ftype))
        elif not isinstance(not_future, bool):
            c.problem(f"{path}.not_future", f"must be true or false, not {not_future!r}")
            not_future = False
        elif not_future and ftype != "date":
            c.problem(f"{path}.not_future", f"only a date can lie in the future, not {ftype!r}")
        fields[str(fname)] = FieldDef(
            name=str(fname),
            type=str(ftype),
            label=c.text(f.get("label"), f"{path}.label"),
            min=bounds[0] if isinstance(bounds[0], int | float) else None,
            max=bounds[1] if isinstance(bounds[1], int | float) else None,
            not_future=not_future,
        )

    transitions: list[TransitionDef] = []
    raw_transitions = top.get("transitions")
    if not isinstance(raw_transitions, list):
        c.problem("transitions", f"must be a list, not {_kind(raw_transitions)}")
        raw_transitions = []
    for i, traw in enumerate(raw_transitions):
        path = f"transitions[{i}]"
        t = c.mapping(traw, path)
        c.unknown_keys(t, _TRANSITION_KEYS, path)
        trigger = c.text(t.get("trigger"), f"{path}.trigger")
        if trigger and not trigger.isidentifier():
            c.problem(f"{path}.trigger", f"{trigger!r} must be a lower-case identifier")
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
        transitions.append(
            TransitionDef(
                trigger=trigger,
                sources=sources,
                dest=dest,
                label=c.text(t.get("label"), f"{path}.label", required=False) or trigger,
                roles=t_roles,
                guards=guards,
                requires=requires,
            )
        )

    permissions: dict[str, tuple[str, ...]] = {}
    for action, praw in c.mapping(top.get("permissions"), "permissions", required=False).items():
        path = f"permissions.{action}"
        permitted = c.names(praw, path)
        for r in permitted:
            if r not in roles:
                c.problem(path, f"unknown role {r!r}")
        permissions[str(action)] = permitted

    statement_states = c.names(top.get("statement_states"), "statement_states")
    for state_id in statement_states:
        if state_id not in states:
            c.problem("statement_states", f"unknown state {state_id!r}")

    notices = _parse_notices(c, top, roles, states, transitions)
    guard_texts = _parse_guard_texts(c, top, transitions, fmt.number)

    definition = Definition(
        name=name,
        version=version,
        title=title,
        initial=initial,
        roles=roles,
        phases=phases,
        states=states,
        fields=fields,
        transitions=tuple(transitions),
        permissions=permissions,
        handlungsfelder=handlungsfelder,
        statement_states=statement_states,
        raw=top,
        lines=lines,
        source_text=text,
        path=file,
        notices=notices,
        file_format=fmt.number,
        format_declared=fmt.declared,
        guard_texts=guard_texts,
    )
    if _graph_is_sound(definition, raw_transitions):
        rules, rule_problems = parse_deadline_rules(definition)
        problems.extend(rule_problems)
        definition = replace(definition, deadline_rules=rules)
        problems.extend(_graph_problems(definition))
    if problems:
        raise InvalidDefinition(problems)
    return definition


def _parse_notices(
    c: _Checker,
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
        c.problem("notices", f"must be a list of notices, not {_kind(raw)}")
        return ()
    triggers = {t.trigger for t in transitions}
    rules: list[NoticeRule] = []
    for i, nraw in enumerate(raw):
        path = f"notices[{i}]"
        n = c.mapping(nraw, path)
        if not n:
            continue
        c.unknown_keys(n, _NOTICE_KEYS, path)
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


def _parse_guard_texts(
    c: _Checker, top: Mapping[str, Any], transitions: Sequence[TransitionDef], fmt: int
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


def _graph_is_sound(d: Definition, raw_transitions: list[Any]) -> bool:
    """True when states and edges are well-formed, so graph lint finds real problems.

    Other problems (an unknown guard, role or field, a wrong type) do not hide the
    graph's problems: ``definition check`` lists every problem in one go.
    """
    return (
        d.initial in d.states
        and len(d.transitions) == len(raw_transitions)
        and all(
            t.trigger and t.sources and t.dest in d.states and set(t.sources) <= set(d.states)
            for t in d.transitions
        )
    )


def _graph_problems(d: Definition) -> Iterator[Problem]:
    """Lint the graph: duplicate triggers, unreachable states, dead ends."""
    seen: dict[tuple[str, str], int] = {}
    for i, t in enumerate(d.transitions):
        for s in t.sources:
            if (t.trigger, s) in seen:
                yield Problem(
                    d.path,
                    d.line_of(f"transitions[{i}].trigger"),
                    f"transitions[{i}].trigger",
                    f"trigger {t.trigger!r} leaves state {s!r} twice"
                    f" (first at transitions[{seen[(t.trigger, s)]}])",
                )
            seen[(t.trigger, s)] = i
    reachable = {d.initial}
    frontier = [d.initial]
    while frontier:
        state = frontier.pop()
        for t in d.triggers_from(state):
            if t.dest not in reachable:
                reachable.add(t.dest)
                frontier.append(t.dest)
    for sid in d.states:
        if sid not in reachable:
            yield Problem(d.path, d.line_of(f"states.{sid}"), f"states.{sid}", "unreachable state")
        elif not d.states[sid].final and not any(t.dest != sid for t in d.triggers_from(sid)):
            yield Problem(
                d.path, d.line_of(f"states.{sid}"), f"states.{sid}", "not final, but no way out"
            )


def _finite_number(value: Any) -> bool:
    """An int or float that is not a boolean, NaN or infinite (``.nan`` bounds)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# A definition is some kilobytes; /dev/zero or a log file is refused before it is read.
MAX_DEFINITION_BYTES = 4 * 1024 * 1024


def _read_text(p: Path) -> str:
    try:  # a regular file (not /dev/zero, not a FIFO), at most MAX_DEFINITION_BYTES
        data = read_file_bytes(p, MAX_DEFINITION_BYTES)
    except InvalidInput as exc:
        raise OSError(0, str(exc).removeprefix(f"{p}: ")) from None
    return data.decode("utf-8")


def load_definition(path: Path | str) -> Definition:
    """Read and validate a definition file (a regular UTF-8 file of at most 4 MiB)."""
    p = Path(path)
    try:
        text = _read_text(p)
    except FileNotFoundError:
        raise InvalidDefinition([Problem(str(p), None, "(file)", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise InvalidDefinition([Problem(str(p), None, "(file)", f"not UTF-8: {exc}")]) from None
    except OSError as exc:
        raise InvalidDefinition(
            [Problem(str(p), None, "(file)", exc.strerror or str(exc))]
        ) from None
    return parse_definition(text, str(p))


def problems_of(path: Path | str) -> Sequence[Problem]:
    """Every problem of a definition file (empty when it is clean)."""
    try:
        load_definition(path)
    except InvalidDefinition as exc:
        return exc.problems
    return ()
