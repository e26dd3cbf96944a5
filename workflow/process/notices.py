"""Who is told what: the notices a definition declares (its ``notices:`` section).

Each rule names an event, a template and the roles it goes to::

    notices:
      - event: transition          # every transition (a rule with `trigger:` only that one)
        template: status_change
        to: [lead_ministry, ministry]
      - event: enter               # a transition into `state:` from another state
        state: consultation
        template: consultation_opened
        to: [coordinator]
      - event: reminder            # a reminder rung (also to the deadline's remind_to)
        template: reminder
        to: [lead_ministry]

A rule for one trigger replaces the rules for every trigger that use the same template
(``report_progress`` tells the coordinators instead of the participating ministries). Rules
that give one event the same template are one notice to all their roles.

Version 2 and older declared no notices: the routing they ran with, coded until then, is
:data:`ROUTING_BEFORE_DECLARED`, and a definition without a ``notices:`` section keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NOTICE_EVENTS = ("transition", "enter", "reminder", "escalation", "digest")
# The templates ruhrflow can fill (notifications/templates), and the events each serves.
TEMPLATE_EVENTS: dict[str, tuple[str, ...]] = {
    "status_change": ("transition", "enter"),
    "consultation_opened": ("transition", "enter"),
    "reminder": ("reminder",),
    "escalation": ("escalation",),
    "digest": ("digest",),
}
# Roles with addresses: the proposal's lead ministry, its participating ministries, the lead
# of its Themenforum, and the coordination office.
NOTICE_ROLES = ("lead_ministry", "ministry", "forum_lead", "coordinator")
# A digest reports a ministry's own proposals to that ministry.
DIGEST_ROLES = ("lead_ministry",)


@dataclass(frozen=True)
class NoticeRule:
    """One declared notice: on ``event`` (for ``trigger`` or ``state``), ``template`` to ``to``."""

    event: str
    template: str
    to: tuple[str, ...]
    trigger: str | None = None
    state: str | None = None

    @property
    def item(self) -> str:
        """A name for the rule (``transition:report_progress:status_change``)."""
        return f"{self.event}:{self.trigger or self.state or '*'}:{self.template}"


ROUTING_BEFORE_DECLARED: tuple[NoticeRule, ...] = (
    NoticeRule("transition", "status_change", ("lead_ministry", "ministry")),
    NoticeRule(
        "transition", "status_change", ("lead_ministry", "coordinator"), trigger="report_progress"
    ),
    # The consulted parties have no address in the directory: they are told outside ruhrflow.
    NoticeRule("transition", "consultation_opened", ("coordinator",), trigger="open_consultation"),
    NoticeRule("reminder", "reminder", ("lead_ministry",)),
    NoticeRule("escalation", "escalation", ("coordinator", "lead_ministry")),
    NoticeRule("digest", "digest", ("lead_ministry",)),
)


def _merged(rules: Iterable[NoticeRule]) -> list[tuple[str, tuple[str, ...]]]:
    """(template, roles) per template, in rule order, roles of equal templates joined."""
    by_template: dict[str, list[str]] = {}
    for rule in rules:
        roles = by_template.setdefault(rule.template, [])
        roles += [r for r in rule.to if r not in roles]
    return [(template, tuple(roles)) for template, roles in by_template.items()]


def transition_routing(
    rules: Sequence[NoticeRule], trigger: str, from_state: str, to_state: str
) -> list[tuple[str, tuple[str, ...]]]:
    """The notices of one transition: (template, roles), one per template."""
    specific = [r for r in rules if r.event == "transition" and r.trigger == trigger]
    replaced = {r.template for r in specific}
    general = [
        r
        for r in rules
        if r.event == "transition" and r.trigger is None and r.template not in replaced
    ]
    entering = [
        r for r in rules if r.event == "enter" and r.state == to_state and from_state != to_state
    ]
    return _merged([*general, *specific, *entering])


def event_routing(rules: Sequence[NoticeRule], event: str) -> tuple[str, tuple[str, ...]] | None:
    """(template, roles) of a reminder, an escalation or the digest; None: nobody is told."""
    merged = _merged(r for r in rules if r.event == event)
    return merged[0] if merged else None
