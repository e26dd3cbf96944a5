"""Correcting a proposal: which fields may change, and what an edit records.

A coordinator (or whoever the definition's ``permissions.edit`` names) corrects the title,
summary, cost estimate, participating ministries or Handlungsfeld of a proposal — a missing
cost estimate added after the intake, a misspelt title. Each edit is one history entry with
the old and the new value of every field it changed, so the history still tells what the
proposal looked like at any time. The values pass the same checks as at creation
(:func:`workflow.engine.intake.validate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workflow.access.directory import Directory
from workflow.engine.changes import Applied
from workflow.engine.intake import ProposalInput, parse_amount, validate
from workflow.errors import InvalidInput
from workflow.inputs import parse_whole_number
from workflow.process.definition import Definition

EDITABLE = ("title", "summary", "cost_estimate", "participating", "handlungsfeld")


@dataclass(frozen=True)
class Edit:
    """The columns an edit sets, and the old and new value of each field it changes."""

    values: dict[str, Any]
    changes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Edited:
    """What an edit did: its history entry, and each changed field's old and new value."""

    applied: Applied
    changes: dict[str, dict[str, Any]]


def parse_assignments(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``FIELD=VALUE`` pairs (``--set``) as a mapping; a field named twice is bad input."""
    found: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"--set takes FIELD=VALUE, not {item!r}")
        if name in found:
            raise InvalidInput(f"--set names {name!r} twice")
        found[name] = value
    return found


def plan_edit(
    row: Mapping[str, Any],
    raw: Mapping[str, Any],
    directory: Directory,
    definition: Definition,
) -> Edit:
    """What setting ``raw`` (field → text, or typed values from the API) on proposal ``row``
    does; raises InvalidInput for an unknown field, a bad value or an edit that changes
    nothing."""
    unknown = [name for name in raw if name not in EDITABLE]
    if unknown:
        raise InvalidInput(f"cannot edit {unknown[0]!r}: editable are {', '.join(EDITABLE)}")
    if not raw:
        raise InvalidInput(f"nothing to edit: name a field ({', '.join(EDITABLE)})")
    current = {
        "title": row["title"],
        "summary": row["summary"] or "",
        "cost_estimate": row["cost_estimate"],
        "participating": tuple(row["participating"] or ()),
        "handlungsfeld": int(row["handlungsfeld"]),
    }
    wanted = {**current, **{name: _typed(name, value) for name, value in raw.items()}}
    if wanted["handlungsfeld"] not in definition.handlungsfelder:
        known = ", ".join(str(n) for n in definition.handlungsfelder)
        raise InvalidInput(f"handlungsfeld must be one of {known}, not {wanted['handlungsfeld']}")
    item = validate(
        ProposalInput(
            title=wanted["title"],
            handlungsfeld=wanted["handlungsfeld"],
            themenforum=int(row["themenforum"]),
            lead=str(row["lead"]),
            participating=wanted["participating"],
            cost_estimate=wanted["cost_estimate"],
            summary=wanted["summary"],
        ),
        directory,
    )
    new: dict[str, Any] = {
        "title": item.title,
        "summary": item.summary,
        "cost_estimate": item.cost_estimate,
        "participating": item.participating,
        "handlungsfeld": item.handlungsfeld,
    }
    changes = {
        name: {"old": _shown(current[name]), "new": _shown(new[name])}
        for name in EDITABLE
        if name in raw and _shown(current[name]) != _shown(new[name])
    }
    if not changes:
        raise InvalidInput(f"{row['key']}: nothing changes, the values are the same")
    values = {name: new[name] for name in changes}
    if "participating" in values:
        values["participating"] = list(values["participating"])
    return Edit(values, changes)


def _typed(name: str, value: Any) -> Any:
    """A field's value from text (``--set``) or from JSON (the API)."""
    if name in ("title", "summary"):
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be text")
        return value
    if name == "cost_estimate":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidInput("cost_estimate must be an amount in euros, as text")
        return parse_amount(str(value).strip(), "cost_estimate")
    if name == "participating":
        if isinstance(value, str):
            return tuple(c.strip() for c in value.split(",") if c.strip())
        if isinstance(value, list) and all(isinstance(c, str) for c in value):
            return tuple(c.strip() for c in value if c.strip())
        raise InvalidInput("participating must be ministry codes (IM,FM or a list)")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput("handlungsfeld must be a whole number")
    return value if isinstance(value, int) else parse_whole_number(value.strip(), name)


def _shown(value: Any) -> Any:
    """A value as the history keeps it (JSON: amounts as exact decimal text)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, tuple | list):
        return list(value)
    return value
