"""Who may do what: roles of the definition matched against actors of the directory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workflow.access.directory import Actor


def holds_role(actor: Actor, role: str, proposal: Mapping[Any, Any] | None) -> bool:
    """True when ``actor`` holds ``role`` for ``proposal``.

    ``lead_ministry`` and ``forum_lead`` are relative to the proposal: an actor of the
    proposal's federführendes Ressort, the lead of the proposal's Themenforum.
    """
    if role == "lead_ministry":
        return (
            actor.role == "ministry"
            and proposal is not None
            and actor.ministry == proposal.get("lead")
        )
    if role == "forum_lead":
        return (
            actor.role == "forum_lead"
            and proposal is not None
            and actor.forum == proposal.get("themenforum")
        )
    if role == "ministry":
        if actor.role != "ministry" or proposal is None:
            return actor.role == "ministry"
        involved = {proposal.get("lead"), *(proposal.get("participating") or ())}
        return actor.ministry in involved
    return actor.role == role


def refusal(actor: Actor, roles: Iterable[str], proposal: Mapping[Any, Any] | None) -> str | None:
    """None when ``actor`` holds one of ``roles``; otherwise why not, in plain words."""
    roles = tuple(roles)
    if any(holds_role(actor, r, proposal) for r in roles):
        return None
    needed = " or ".join(_describe(r, proposal) for r in roles) or "a role nobody has"
    return f"needs {needed}; {actor.id} is {actor.role}" + (
        f" of {actor.ministry}" if actor.ministry else ""
    )


def _describe(role: str, proposal: Mapping[Any, Any] | None) -> str:
    if role == "lead_ministry" and proposal is not None:
        return f"the lead ministry ({proposal.get('lead')})"
    if role == "forum_lead" and proposal is not None:
        return f"the lead of Themenforum {proposal.get('themenforum')}"
    return role
