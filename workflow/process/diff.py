"""What changed between two definition versions: states, transitions, guards, fields, roles,
deadlines and notices, each added, removed or changed.

Pure: two :class:`Definition` values in, a list of :class:`Change` out. ``ruhrflow definition
diff`` prints it; a migration plan is easier to judge with it at hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from workflow.process.definition import Definition

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
CATEGORIES = ("states", "transitions", "guards", "fields", "roles", "deadlines", "notices")


@dataclass(frozen=True)
class Change:
    """One difference: ``category`` (e.g. states), the ``item`` (e.g. a state id), what
    happened (added, removed, changed) and, for a change, which attributes differ."""

    category: str
    item: str
    change: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly."""
        return asdict(self)


def _transitions(d: Definition) -> dict[str, dict[str, Any]]:
    """Transitions by trigger (a trigger declared twice is one item with both sources)."""
    found: dict[str, dict[str, Any]] = {}
    for t in d.transitions:
        item = found.setdefault(
            t.trigger, {"from": [], "to": [], "roles": set(), "requires": set(), "label": t.label}
        )
        item["from"] += list(t.sources)
        item["to"].append(t.dest)
        item["roles"] |= set(t.roles)
        item["requires"] |= set(t.requires)
    return {
        k: {**v, "from": sorted(v["from"]), "roles": sorted(v["roles"]),
            "requires": sorted(v["requires"])}
        for k, v in found.items()
    }  # fmt: skip


def _guards(d: Definition) -> dict[str, dict[str, Any]]:
    """Guards by ``trigger:guard``: a guard added to one transition is an added item."""
    return {f"{t.trigger}:{g}": {} for t in d.transitions for g in t.guards}


def _deadlines(d: Definition) -> dict[str, dict[str, Any]]:
    raw = d.raw.get("deadlines") or {}
    return {str(k): dict(v) if isinstance(v, dict) else {"value": v} for k, v in raw.items()}


def _notices(d: Definition) -> dict[str, dict[str, Any]]:
    """Notices by event, trigger or state, and template: a changed ``to`` is a change."""
    return {rule.item: {"to": list(rule.to)} for rule in d.notices}


_ITEMS: dict[str, Callable[[Definition], Mapping[str, Mapping[str, Any]]]] = {
    "states": lambda d: {k: asdict(v) for k, v in d.states.items()},
    "transitions": _transitions,
    "guards": _guards,
    "fields": lambda d: {k: asdict(v) for k, v in d.fields.items()},
    "roles": lambda d: {k: {"label": v} for k, v in d.roles.items()},
    "deadlines": _deadlines,
    "notices": _notices,
}


def _compare(category: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterable[Change]:
    for item in old:
        if item not in new:
            yield Change(category, item, REMOVED)
    for item, value in new.items():
        if item not in old:
            yield Change(category, item, ADDED)
            continue
        before = old[item]
        differs = [
            f"{name}: {_show(before.get(name))} → {_show(value.get(name))}"
            for name in dict.fromkeys([*before, *value])
            if before.get(name) != value.get(name)
        ]
        if differs:
            yield Change(category, item, CHANGED, "; ".join(differs))


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def diff_definitions(old: Definition, new: Definition) -> list[Change]:
    """Every difference from ``old`` to ``new``, by category in :data:`CATEGORIES` order."""
    changes: list[Change] = []
    for category in CATEGORIES:
        extract = _ITEMS[category]
        changes += _compare(category, extract(old), extract(new))
    return changes
