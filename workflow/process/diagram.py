"""Drawing a definition: plain text, Mermaid (``stateDiagram-v2``) and Graphviz dot."""

from __future__ import annotations

from itertools import pairwise

from workflow.process.definition import Definition


def render_text(d: Definition) -> str:
    """The process as readable text: states by phase, then transitions."""
    lines = [f"{d.title} ({d.name} v{d.version}), starts in {d.initial}", ""]
    for phase, label in d.phases.items():
        lines.append(f"{label}:")
        for s in d.states.values():
            if s.phase == phase:
                final = "  [final]" if s.final else ""
                lines.append(f"  {s.id:<16} {s.label}{final}")
    lines += ["", "Transitions:"]
    for t in d.transitions:
        extra = []
        if t.guards:
            extra.append("guards " + ", ".join(t.guards))
        if t.requires:
            extra.append("requires " + ", ".join(t.requires))
        extra.append("by " + ", ".join(t.roles))
        lines.append(f"  {t.trigger:<20} {', '.join(t.sources)} → {t.dest}  ({'; '.join(extra)})")
    return "\n".join(lines)


def _mermaid_label(text: str) -> str:
    return text.replace(":", " ").replace('"', "'").replace(";", ",")


def _by_phase(d: Definition) -> list[tuple[str, str, list[str]]]:
    """(phase id, German label, state ids) in the definition's order of phases."""
    return [
        (phase, label, [s.id for s in d.states.values() if s.phase == phase])
        for phase, label in d.phases.items()
    ]


def render_mermaid(d: Definition) -> str:
    """A Mermaid state diagram: one box per phase, German labels on states and transitions
    (paste into any Markdown that renders Mermaid)."""
    lines = ["stateDiagram-v2", "    direction TB"]
    for phase, label, ids in _by_phase(d):
        lines.append(f'    state "{_mermaid_label(label)}" as phase_{phase} {{')
        for state_id in ids:
            lines.append(f"        {state_id} : {_mermaid_label(d.states[state_id].label)}")
        lines.append("    }")
    lines.append(f"    [*] --> {d.initial}")
    for t in d.transitions:
        for src in t.sources:
            lines.append(f"    {src} --> {t.dest} : {_mermaid_label(t.label)}")
    for s in d.states.values():
        if s.final:
            lines.append(f"    {s.id} --> [*]")
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(d: Definition) -> str:
    """A Graphviz digraph (``dot -Tsvg``) that reads top to bottom: one cluster per phase,
    the phases ranked one below the other, German labels on states and transitions."""
    lines = [
        f"digraph {_dot_quote(d.name)} {{",
        "    rankdir=TB;",
        "    newrank=true;",
        "    compound=true;",
        "    node [shape=box, style=rounded];",
        "    edge [fontsize=10];",
    ]
    phases = _by_phase(d)
    for phase, label, ids in phases:
        lines.append(f"    subgraph {_dot_quote('cluster_' + phase)} {{")
        lines.append(f"        label={_dot_quote(label)};")
        for state_id in ids:
            s = d.states[state_id]
            shape = ", peripheries=2" if s.final else ""
            lines.append(f"        {s.id} [label={_dot_quote(s.label)}{shape}];")
        lines.append("    }")
    # Each phase's first state sits below the previous phase's states: the phases stack.
    for (_, _, upper), (_, _, lower) in pairwise(phases):
        if upper and lower:
            lines.append(f"    {upper[-1]} -> {lower[0]} [style=invis, weight=10];")
    for t in d.transitions:
        for src in t.sources:
            lines.append(f"    {src} -> {t.dest} [label={_dot_quote(t.label)}];")
    lines.append("}")
    return "\n".join(lines)
