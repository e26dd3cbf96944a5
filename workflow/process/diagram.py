"""Drawing a definition: plain text, Mermaid (``stateDiagram-v2``) and Graphviz dot."""

from __future__ import annotations

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
    return text.replace(":", " ").replace('"', "'")


def render_mermaid(d: Definition) -> str:
    """A Mermaid state diagram (paste into any Markdown that renders Mermaid)."""
    lines = ["stateDiagram-v2"]
    for s in d.states.values():
        lines.append(f"    {s.id} : {_mermaid_label(s.label)}")
    lines.append(f"    [*] --> {d.initial}")
    for t in d.transitions:
        for src in t.sources:
            lines.append(f"    {src} --> {t.dest} : {t.trigger}")
    for s in d.states.values():
        if s.final:
            lines.append(f"    {s.id} --> [*]")
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(d: Definition) -> str:
    """A Graphviz digraph (``dot -Tsvg``)."""
    lines = [f"digraph {_dot_quote(d.name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for s in d.states.values():
        shape = ", peripheries=2" if s.final else ""
        lines.append(f"    {s.id} [label={_dot_quote(s.label)}{shape}];")
    for t in d.transitions:
        for src in t.sources:
            lines.append(f"    {src} -> {t.dest} [label={_dot_quote(t.trigger)}];")
    lines.append("}")
    return "\n".join(lines)
