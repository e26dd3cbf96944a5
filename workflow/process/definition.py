"""Process definitions: load a YAML file, validate it, and answer questions about it.

Every problem is reported with the file, the line and the key it concerns
(``definitions/ruhr_konferenz.yaml:42: transitions[3].guards: unknown guard 'x'``).
Loading collects all problems before it fails, so ``ruhrflow definition check``
can list them in one go. The file is read with its lines by
:mod:`workflow.process.yaml_lines`, each section parsed by :mod:`workflow.process.sections`
into the parts of :mod:`workflow.process.parts`; here they become a :class:`Definition`,
whose graph is linted (unreachable states, dead ends, a trigger leaving a state twice).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from workflow.errors import InvalidDefinition, InvalidInput, Problem
from workflow.inputs import read_file_bytes
from workflow.process.deadline_rules import DeadlineRule, parse_deadline_rules
from workflow.process.german import rung_label
from workflow.process.guards import REGISTRY
from workflow.process.notices import ROUTING_BEFORE_DECLARED, NoticeRule
from workflow.process.parts import (
    FIELD_TYPES,
    PUBLIC_COUNTED,
    PUBLIC_GROUPS,
    FieldDef,
    StateDef,
    TransitionDef,
)

__all__ = [
    "FIELD_TYPES",
    "MAX_DEFINITION_BYTES",
    "PUBLIC_COUNTED",
    "PUBLIC_GROUPS",
    "Definition",
    "FieldDef",
    "StateDef",
    "TransitionDef",
    "load_definition",
    "parse_definition",
    "problems_of",
]


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
        if found is not None:
            return found
        from workflow.process.formats import DEFAULT_PERMISSIONS  # a file of an older format

        return DEFAULT_PERMISSIONS.get(action, ())

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


def parse_definition(text: str, file: str = "<definition>") -> Definition:
    """Parse and validate definition text; raise InvalidDefinition listing every problem."""
    # The reader (PyYAML), the section parsers and the formats load here, not with the
    # module: a command whose definition comes from the cache
    # (workflow/process/definition_cache.py) never needs them (issue 29).
    from workflow.process import sections
    from workflow.process.formats import resolve
    from workflow.process.yaml_lines import compose

    data, lines, problems = compose(text, file)
    c = sections.Checker(file, lines, problems)
    top = c.mapping(data, "(document)")
    c.unknown_keys(top, sections.TOP_KEYS, "")
    # read under the rules of the format it was written for (a key added later has a default)
    fmt = resolve(top)
    for key_path, message in fmt.problems:
        c.problem(key_path, message)
    name, version, title = sections.parse_header(c, top)
    roles = sections.parse_labels(c, top, "roles")
    phases = sections.parse_labels(c, top, "phases")
    handlungsfelder = sections.parse_handlungsfelder(c, top)
    states = sections.parse_states(c, top, phases, fmt.number)
    initial = sections.parse_initial(c, top, states)
    fields = sections.parse_fields(c, top)
    raw_transitions = sections.raw_transitions(c, top)
    transitions = sections.parse_transitions(c, raw_transitions, states, roles, fields)
    permissions = sections.parse_permissions(c, top, roles)
    statement_states = sections.parse_statement_states(c, top, states)
    notices = sections.parse_notices(c, top, roles, states, transitions)
    guard_texts = sections.parse_guard_texts(c, top, transitions, fmt.number)
    definition = Definition(
        name=name, version=version, title=title, initial=initial, roles=roles, phases=phases,
        states=states, fields=fields, transitions=tuple(transitions), permissions=permissions,
        handlungsfelder=handlungsfelder, statement_states=statement_states, raw=top,
        lines=lines, source_text=text, path=file, notices=notices, file_format=fmt.number,
        format_declared=fmt.declared, guard_texts=guard_texts,
    )  # fmt: skip
    if _graph_is_sound(definition, raw_transitions):
        rules, rule_problems = parse_deadline_rules(definition)
        problems.extend(rule_problems)
        definition = replace(definition, deadline_rules=rules)
        problems.extend(_graph_problems(definition))
    if problems:
        raise InvalidDefinition(problems)
    return definition


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
