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


_WHO_DE = {
    "coordinator": "die Koordinierungsstelle",
    "ministry": "ein beteiligtes Ressort",
    "forum_lead": "eine Themenforum-Leitung",
    "auditor": "die Prüfung",
    "system": "ruhrflow selbst",
}


def refusal_de(actor: Actor, roles: Iterable[str], proposal: Mapping[Any, Any] | None) -> str:
    """Why ``actor`` may not, in German (for the web; :func:`refusal` says it in English)."""
    needed = []
    for role in roles:
        if role == "lead_ministry" and proposal is not None:
            needed.append(f"das federführende Ressort ({proposal.get('lead')})")
        elif role == "forum_lead" and proposal is not None:
            needed.append(f"die Leitung des Themenforums {proposal.get('themenforum')}")
        else:
            needed.append(_WHO_DE.get(role, role))
    who = _WHO_DE.get(actor.role, actor.role)
    if actor.ministry:
        who = f"das Ressort {actor.ministry}"
    elif actor.role == "forum_lead" and actor.forum is not None:
        who = f"die Leitung des Themenforums {actor.forum}"
    allowed = " oder ".join(dict.fromkeys(needed)) or "niemand"
    return f"Das darf nur {allowed}; Sie handeln als {who}."
