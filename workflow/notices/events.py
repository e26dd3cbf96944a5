"""Which event produces which notice, for whom: the transition effect and the rung hook.

Both run inside the transaction that causes the notice (a transition, a sweep), after the
deadline effect, so the deadlines of a new state exist already and go into the notice.

Who is told what is declared in the definition of the proposal's version (its ``notices:``
section, :mod:`workflow.process.notices`): the templates and roles of a transition, of
entering a state, of a reminder and of an escalation rung. A rung's notice also goes to the
roles its deadline rule names (``remind_to``/``escalate_to``), with the deadline's
``termin.ics``. The creation of a proposal (``create``) and a migration tell nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from notifications.mail.model import CalendarEntry, Recipient
from workflow.access.directory import Directory
from workflow.engine.changes import Applied, Batch, MovedDeadline, RungInfo
from workflow.engine.effects import Effect
from workflow.notices.context import (
    ContextTexts,
    OpenDeadline,
    calendar_entry,
    calendar_series,
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
from workflow.notices.outbox import Digests, Notice, enqueue, enqueue_many, notice
from workflow.process.notices import event_routing, transition_routing
from workflow.store.db import Connection
from workflow.store.installation import installation_id

log = logging.getLogger("ruhrflow.notices")

NO_NOTICE_TRIGGERS = frozenset({"create"})

RoutingList = list[tuple[str, tuple[str, ...]]]
"""What ``transition_routing`` answers: (template, roles) per notice."""


def transition_key(key: str, seq: int, kind: str) -> str:
    """The idempotency key of a notice caused by the history entry ``seq`` of ``key``."""
    return f"transition:{key}:{seq}:{kind}"


class Notifier(Effect):
    """Writes the notices of events to the outbox (rendered at delivery); one per runtime.

    ``domain`` is that of the sender (for Message-IDs). A transition only writes the outbox:
    the templates, Jinja2 and the calendar library are loaded by whoever renders (delivery,
    ``notices preview``), not by ``ruhrflow advance``.
    """

    def __init__(self, directory: Directory, *, domain: str) -> None:
        self.directory = directory
        self.domain = domain
        # tuples: immutable, so the outbox keeps their stored text too (outbox._Rows)
        self._recipient_cache: dict[tuple[Any, ...], tuple[Recipient, ...]] = {}
        # (rules, trigger, from, to) -> routing; the rules (a definition's, immutable) are
        # kept and compared by identity
        self._routing_cache: dict[tuple[Any, ...], tuple[Any, RoutingList]] = {}
        # the stored text of status_change contexts, what repeats written once
        self._texts = ContextTexts()
        # (installation, series) -> the calendar UID (a SHA-256 each; the same every period)
        self._uids: dict[tuple[str, int], str] = {}
        self._digests: Digests | None = None  # of the last installation asked
        # (engine, its installation id): installation_id's answer for the last engine asked
        self._installed: tuple[Any, str] | None = None

    # --- transitions --------------------------------------------------------------------------

    def on_transition(self, batch: Batch) -> None:
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
                OpenDeadline(d.id, d.kind, d.label, d.due_at, d.sequence, d.series)
                for d in known[c.proposal_id]
            ]
            for c in changes
            if c.proposal_id in known
        }
        rest = {c.proposal_id: c.definition for c in changes if c.proposal_id not in known}
        if rest:
            current.update(open_deadlines_of(conn, rest))
        # many changes share their transition, next steps and deadlines: built (and stored
        # as JSON) once
        shared: dict[Any, Any] | None = {} if len(changes) > 1 else None
        notices = [
            made
            for change in changes
            for made in self.transition_notices(
                conn, change, current.get((change.proposal_id, change.to_state), []), shared
            )
        ]
        enqueue_many(conn, notices, now, domain=self.domain,
                     installation=self._installation(conn))  # fmt: skip

    def transition_notices(
        self,
        conn: Connection,
        change: Applied,
        current: Sequence[OpenDeadline] | None = None,
        shared: dict[Any, Any] | None = None,
    ) -> list[Notice]:
        """The notices of one transition (not yet stored).

        ``current`` are the deadlines of the new state (default: its open ones in the store);
        ``shared`` the memo of the notices of one command
        (:func:`workflow.notices.context.status_change_context`).
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
            shared=shared,
            texts=self._texts,
        )
        text: str | None = None  # its stored JSON, written when a notice first needs it
        notices: list[Notice] = []
        for template, roles in self._routing(
            definition.notices, change.trigger, change.from_state, change.to_state
        ):
            key = transition_key(change.key, change.seq, template)
            if template == "consultation_opened":
                # the deadline the consultation runs to: the one of its kind, else the first
                deadline = next((d for d in current if d.kind == "consultation"), None)
                deadline = deadline or (current[0] if current else None)
                if deadline is None:
                    log.warning("%s: %s without a deadline of %s", change.key, template,
                                change.to_state)  # fmt: skip
                    continue
                notices.append(
                    self._notice(
                        key,
                        template,
                        change.proposal_id,
                        self._recipients(roles, row),
                        consultation_context(proposal=proposal, deadline=deadline),
                        self._calendar(conn, change.proposal_id, deadline, proposal),
                    )
                )
                continue
            if text is None:
                text = self._texts.status_change(context, definition, shared)
            notices.append(
                self._notice(
                    key,
                    template,
                    change.proposal_id,
                    self._recipients(roles, row),
                    context,
                    self._calendar(conn, change.proposal_id, current[0], proposal)
                    if current
                    else None,
                    text,
                )
            )
        return notices

    def _routing(
        self, rules: Sequence[Any], trigger: str, from_state: str, to_state: str
    ) -> RoutingList:
        """``transition_routing``, remembered per definition and transition (every
        transition asks; the answer never changes)."""
        slot = (id(rules), trigger, from_state, to_state)
        found = self._routing_cache.get(slot)
        if found is not None and found[0] is rules:
            return found[1]
        if len(self._routing_cache) >= 1024:
            self._routing_cache.clear()
        routing = transition_routing(rules, trigger, from_state, to_state)
        self._routing_cache[slot] = (rules, routing)
        return routing

    def _recipients(self, roles: tuple[str, ...], row: Mapping[Any, Any]) -> tuple[Recipient, ...]:
        """``role_recipients`` for a transition, remembered per lead, participants and forum
        (a bulk advance asks for the same few combinations thousands of times)."""
        slot = (roles, row["lead"], tuple(row.get("participating") or ()), row.get("themenforum"))
        found = self._recipient_cache.get(slot)
        if found is None:
            if len(self._recipient_cache) >= 4096:
                self._recipient_cache.clear()
            found = tuple(role_recipients(self.directory, roles, row))
            self._recipient_cache[slot] = found
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
        template, declared = event_routing(definition.notices, info.kind) or (info.kind, ())
        roles = (*declared, *info.recipients)
        recipients: list[Recipient] = unique(role_recipients(self.directory, roles, row))
        return self._notice(
            info.idempotency_key,
            template,
            info.proposal_id,
            recipients,
            rung_context(
                proposal=proposal,
                deadline=deadline,
                kind=info.kind,
                rung=info.rung,
                now=now,
                late_since=info.fire_at if info.late else None,
            ),
            self._calendar(conn, info.proposal_id, deadline, proposal),
        )

    # --- moved deadlines ----------------------------------------------------------------------

    def on_deadline_moved(
        self, conn: Connection, applied: Applied, moved: MovedDeadline, now: datetime
    ) -> None:
        """The hook of ``deadlines move``: a ``deadline_moved`` notice with the moved entry
        (same UID, SEQUENCE one higher), to the lead ministry, the coordinators and the roles
        the deadline's rule reminds."""
        from workflow.process.deadline_rules import rule_of

        row = applied.proposal
        proposal = proposal_context(row, applied.definition, self.directory)
        deadline = OpenDeadline(
            moved.deadline_id, moved.kind, moved.label, moved.due_at, moved.sequence
        )
        rule = rule_of(applied.definition, moved.kind)
        reminded = tuple(r for rung in rule.rungs for r in rung.recipients) if rule else ()
        roles = ("lead_ministry", "coordinator", *reminded)
        context = {
            "proposal": proposal,
            "deadline": {
                **deadline.as_context(),
                "old_due_at": moved.old_due_at,
                "reason": moved.reason,
                "actor_name": self._actor_name(applied.actor),
            },
        }
        told = self._notice(
            f"deadline-moved:{moved.deadline_id}:{moved.sequence}",
            "deadline_moved",
            moved.proposal_id,
            unique(role_recipients(self.directory, roles, row)),
            context,
            self._calendar(conn, moved.proposal_id, deadline, proposal),
        )
        enqueue(conn, told, now, domain=self.domain)

    def _actor_name(self, actor: str) -> str:
        who = self.directory.actors.get(actor)
        return who.name if who else actor

    def _calendar(
        self,
        conn: Connection,
        proposal_id: int,
        deadline: OpenDeadline,
        proposal: Mapping[str, Any],
    ) -> CalendarEntry:
        """The ``termin.ics`` of ``deadline``: its UID from the installation id and the
        deadline (one per recurring series), its domain that of the configured sender."""
        series = calendar_series(conn, deadline)
        installation = self._installation(conn)
        slot = (installation, series)
        uid = self._uids.get(slot)
        if uid is None:
            if len(self._uids) >= 4096:
                self._uids.clear()
            digests = self._digests
            if digests is None or digests.installation != installation:
                digests = self._digests = Digests(self.domain, installation)
            uid = self._uids[slot] = digests.deadline_uid(series)
        return calendar_entry(deadline, proposal, uid=uid)

    def _installation(self, conn: Connection) -> str:
        """``installation_id(conn)``, remembered for the engine last asked (an engine's
        installation id never changes; every notice needs it)."""
        engine = conn.engine
        kept = self._installed
        if kept is not None and kept[0] is engine:
            return kept[1]
        found = installation_id(conn)
        self._installed = (engine, found)
        return found

    def _notice(
        self,
        key: str,
        kind: str,
        proposal_id: int | None,
        recipients: Sequence[Recipient],
        context: Mapping[str, Any],
        calendar: CalendarEntry | None,
        context_text: str | None = None,
    ) -> Notice:
        """A notice to store (rendered at delivery); ``context_text`` the stored JSON of
        ``context`` when it is written already."""
        return notice(
            idempotency_key=key,
            kind=kind,
            proposal_id=proposal_id,
            recipients=recipients,
            context=context,
            calendar=calendar,
            context_text=context_text,
        )
