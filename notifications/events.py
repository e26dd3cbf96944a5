"""Which event produces which notice, for whom: the transition effect and the rung hook.

Both run inside the transaction that causes the notice (a transition, a sweep), after the
deadline effect, so the deadlines of a new state exist already and go into the notice.

Who is told what:

* every transition (not ``create``, the creation by the intake) → ``status_change`` to the
  lead ministry and the participating ministries. ``report_progress`` (a self-transition of
  ``implementation``) is a change the coordination office wants to see, so it goes to the
  lead ministry and the coordinators;
* ``open_consultation`` additionally → ``consultation_opened`` to the coordinators;
* a reminder rung → the lead ministry; an escalation rung → the coordinators and the lead
  ministry; both also to the roles the deadline rule names (``remind_to``/``escalate_to``),
  each with the deadline's ``termin.ics``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from notifications.context import (
    OpenDeadline,
    calendar_entry,
    consultation_context,
    deadline_by_id,
    open_deadlines,
    open_deadlines_of,
    proposal_context,
    role_recipients,
    rung_context,
    status_change_context,
    unique,
)
from notifications.mail.model import CalendarEntry, Recipient
from notifications.outbox import Notice, enqueue, enqueue_many, message_domain
from workflow.access.directory import Directory
from workflow.engine.changes import Applied, Batch, RungInfo

if TYPE_CHECKING:
    from pathlib import Path

    from notifications.mail.render import Renderer
    from workflow.app.settings import Settings

log = logging.getLogger("ruhrflow.notices")

STATUS_CHANGE_ROLES = ("lead_ministry", "ministry")
PROGRESS_ROLES = ("lead_ministry", "coordinator")
# The directory has addresses for ministries and ruhrflow's functional accounts, but none for
# the consulted parties (Kommunen, Kammern, Verbände): they are told outside ruhrflow, so the
# consultation notice goes to the coordinators only.
CONSULTATION_ROLES = ("coordinator",)
RUNG_ROLES = {"reminder": ("lead_ministry",), "escalation": ("coordinator", "lead_ministry")}
NO_NOTICE_TRIGGERS = frozenset({"create"})


def transition_key(key: str, seq: int, kind: str) -> str:
    """The idempotency key of a notice caused by the history entry ``seq`` of ``key``."""
    return f"transition:{key}:{seq}:{kind}"


class Notifier:
    """Writes the notices of events to the outbox (rendered at delivery); one per runtime."""

    def __init__(self, directory: Directory, *, domain: str, templates: Path | None = None) -> None:
        self.directory = directory
        self.domain = domain
        self.templates = templates
        self._recipient_cache: dict[tuple[Any, ...], list[Recipient]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, directory: Directory) -> Notifier:
        """The notifier for ``settings`` (template overrides, the sender's domain)."""
        return cls(
            directory,
            domain=message_domain(settings.mail.sender),
            templates=settings.mail.templates,
        )

    @cached_property
    def renderer(self) -> Renderer:
        """The templates (for previews; transitions do not render, delivery does)."""
        from notifications.mail.render import renderer_for

        return renderer_for(self.templates)

    # --- transitions --------------------------------------------------------------------------

    def __call__(self, batch: Batch) -> None:
        """The transition effect: one ``status_change`` (and more) per applied transition."""
        conn, now = batch.conn, batch.now
        # A migration tells nobody: it changes the rules, not what happened to a proposal.
        changes = [
            c
            for c in batch.applied
            if c.trigger not in NO_NOTICE_TRIGGERS and c.kind != "migration"
        ]
        if not changes:
            return
        # The deadline effect ran before (runtime.transition_effects) and left on the batch
        # the open deadlines it knows completely; the rest is one query for all of them (a
        # bulk advance has thousands).
        known = batch.opened
        current: dict[tuple[int, str], list[OpenDeadline]] = {
            (c.proposal_id, c.to_state): [
                OpenDeadline(d.id, d.kind, d.label, d.due_at, d.sequence)
                for d in known[c.proposal_id]
            ]
            for c in changes
            if c.proposal_id in known
        }
        rest = {c.proposal_id: c.definition for c in changes if c.proposal_id not in known}
        if rest:
            current.update(open_deadlines_of(conn, rest))
        notices = [
            notice
            for change in changes
            for notice in self.transition_notices(
                conn, change, current.get((change.proposal_id, change.to_state), [])
            )
        ]
        enqueue_many(conn, notices, now, domain=self.domain)

    def transition_notices(
        self,
        conn: Connection,
        change: Applied,
        current: Sequence[OpenDeadline] | None = None,
    ) -> list[Notice]:
        """The notices of one transition (not yet stored).

        ``current`` are the deadlines of the new state (default: its open ones in the store).
        """
        row = change.proposal
        definition = change.definition
        proposal = proposal_context(row, definition, self.directory)
        if current is None:
            current = open_deadlines(conn, definition, change.proposal_id, change.to_state)
        context = status_change_context(
            proposal=proposal,
            definition=definition,
            directory=self.directory,
            trigger=change.trigger,
            from_state=change.from_state,
            to_state=change.to_state,
            actor=change.actor,
            at=change.at,
            comment=change.comment,
            fields=change.fields,
            deadlines_open=current,
        )
        roles = PROGRESS_ROLES if change.trigger == "report_progress" else STATUS_CHANGE_ROLES
        notices = [
            self._notice(
                transition_key(change.key, change.seq, "status_change"),
                "status_change",
                change.proposal_id,
                self._recipients(roles, row),
                context,
                calendar_entry(current[0], proposal) if current else None,
            )
        ]
        if change.trigger == "open_consultation":
            consultation = next((d for d in current if d.kind == "consultation"), None)
            if consultation is None:
                log.warning("%s: consultation opened without a consultation deadline", change.key)
            else:
                notices.append(
                    self._notice(
                        transition_key(change.key, change.seq, "consultation_opened"),
                        "consultation_opened",
                        change.proposal_id,
                        self._recipients(CONSULTATION_ROLES, row),
                        consultation_context(proposal=proposal, deadline=consultation),
                        calendar_entry(consultation, proposal),
                    )
                )
        return notices

    def _recipients(self, roles: tuple[str, ...], row: Mapping[Any, Any]) -> list[Recipient]:
        """``role_recipients`` for a transition, remembered per lead, participants and forum
        (a bulk advance asks for the same few combinations thousands of times)."""
        slot = (roles, row["lead"], tuple(row.get("participating") or ()), row.get("themenforum"))
        found = self._recipient_cache.get(slot)
        if found is None:
            if len(self._recipient_cache) >= 4096:
                self._recipient_cache.clear()
            found = self._recipient_cache[slot] = role_recipients(self.directory, roles, row)
        return found

    # --- rungs --------------------------------------------------------------------------------

    def on_rung(self, conn: Connection, applied: Applied, info: RungInfo, now: datetime) -> None:
        """The sweep's hook: a ``reminder`` or ``escalation`` notice for a fired rung."""
        enqueue(conn, self.rung_notice(conn, applied.proposal, applied, info, now), now,
                domain=self.domain)  # fmt: skip

    def rung_notice(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        applied: Applied,
        info: RungInfo,
        now: datetime,
    ) -> Notice:
        """The notice of one fired rung (not yet stored)."""
        definition = applied.definition
        proposal = proposal_context(row, definition, self.directory)
        deadline = deadline_by_id(conn, definition, info.deadline_id)
        roles = (*RUNG_ROLES.get(info.kind, ("lead_ministry",)), *info.recipients)
        recipients: list[Recipient] = unique(role_recipients(self.directory, roles, row))
        return self._notice(
            info.idempotency_key,
            info.kind,
            info.proposal_id,
            recipients,
            rung_context(
                proposal=proposal, deadline=deadline, kind=info.kind, rung=info.rung, now=now
            ),
            calendar_entry(deadline, proposal),
        )

    def _notice(
        self,
        key: str,
        kind: str,
        proposal_id: int | None,
        recipients: Sequence[Recipient],
        context: Mapping[str, Any],
        calendar: CalendarEntry | None,
    ) -> Notice:
        """A notice to store (rendered at delivery)."""
        return Notice(
            idempotency_key=key,
            kind=kind,
            proposal_id=proposal_id,
            recipients=recipients,
            context=context,
            calendar=calendar,
        )
