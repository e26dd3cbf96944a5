"""The deadline effect: it keeps the ``deadlines`` table true with every transition.

It runs in the transaction of every transition: leaving a state closes its open deadlines
(and cancels their pending rungs); entering one creates the deadlines of the new state with
their rungs. Reminders whose time has already passed when the deadline is created are left
out; escalations are kept (a late entry into a state whose deadline has passed is overdue,
and the next sweep says so). The rules come with the definition
(:mod:`workflow.process.deadline_rules`), the SQL from :mod:`workflow.store.deadlines`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow.engine.changes import Applied, Batch, OpenedDeadline
from workflow.engine.effects import Effect
from workflow.process.deadline_rules import OPEN, DeadlinePlans, DeadlineRule, PlannedDeadline
from workflow.store import deadlines as store
from workflow.store.db import Connection

log = logging.getLogger("ruhrflow.deadlines")


class DeadlineEffect(Effect):
    """The transition effect: close the deadlines of the state left, open those entered.

    ``setting`` is the ``[process]`` section of the settings (for ``date_setting`` rules).
    All changes of one command are handled together: one ``UPDATE … RETURNING`` per status
    (closed on leaving a state, met on a reset), each with an UPDATE cancelling the pending
    rungs of what it closed, one INSERT of the new deadlines and one of their rungs (per 500
    proposals; a bulk advance of 10,000 proposals issued 3–4 statements per proposal before;
    on PostgreSQL one proposal's close and cancel, and its new deadline with its rungs, are
    one statement each: :mod:`workflow.store.deadlines`).
    """

    def __init__(self, setting: Mapping[str, Any] | None = None) -> None:
        self.setting: Mapping[str, Any] = dict(setting or {})
        self._plans = DeadlinePlans()  # plan_deadline, the times per rule and due day kept

    def on_transition(self, batch: Batch) -> None:
        """Close and open the deadlines of ``batch``; record in ``batch.opened`` what it knows."""
        conn, applied, now = batch.conn, batch.applied, batch.now
        if len({change.proposal_id for change in applied}) != len(applied):
            for change in applied:  # one proposal twice: keep the order of its changes
                self._apply(conn, [change], now)
            return
        batch.opened.update(self._apply(conn, applied, now))

    def _apply(
        self, conn: Connection, applied: Sequence[Applied], now: datetime
    ) -> dict[int, list[OpenedDeadline]]:
        # What each change closes: every open deadline when the state changes; on a
        # self-transition, the recurring deadlines its trigger resets (closed as met).
        close_all: set[int] = set()
        resets: dict[int, dict[str, DeadlineRule]] = {}
        opening: list[tuple[Applied, DeadlineRule, Mapping[str, Any], str | None]] = []
        complete: list[int] = []  # proposals whose open deadlines are exactly those opened now
        for change in applied:
            rules = change.definition.deadline_rules
            data = change.proposal.get("data") or {}
            # A migration re-derives every deadline from the target version's rules.
            if change.from_state != change.to_state or change.kind == "migration":
                close_all.add(change.proposal_id)
                complete.append(change.proposal_id)
                opening += [(change, r, data, None) for r in rules if r.state == change.to_state]
                continue
            every_rule_reset = True
            for rule in rules:
                if rule.state != change.to_state:
                    continue
                if change.trigger in rule.reset_by:
                    resets.setdefault(change.proposal_id, {})[rule.kind] = rule
                    opening.append((change, rule, data, rule.kind))
                else:
                    every_rule_reset = False
            if every_rule_reset:
                complete.append(change.proposal_id)
        # Closing returns what it closed (UPDATE … RETURNING): no SELECT before it; closing
        # and meeting cancel the pending rungs of what they close.
        store.close_open(conn, sorted(close_all), now)
        sequences: dict[tuple[int, str], int] = {}  # (proposal, kind) -> highest period met
        series: dict[tuple[int, str], int] = {}  # (proposal, kind) -> first deadline of it
        by_kinds: dict[tuple[str, ...], list[int]] = {}
        for proposal_id, reset in resets.items():
            by_kinds.setdefault(tuple(sorted(reset)), []).append(proposal_id)
        for kinds, pids in by_kinds.items():
            for _deadline, proposal_id, kind, sequence, first in store.meet_open(
                conn, pids, kinds, now
            ):
                slot = (proposal_id, kind)
                sequences[slot] = max(sequences.get(slot, -1), sequence)
                series[slot] = first
        known: dict[int, list[OpenedDeadline]] = {pid: [] for pid in complete}
        for pid, deadline in self._open_all(conn, opening, sequences, series, now):
            if pid in known:
                known[pid].append(deadline)
        for opened in known.values():
            opened.sort(key=lambda d: (d.due_at, d.id))
        return known

    def _open_all(
        self,
        conn: Connection,
        opening: Sequence[tuple[Applied, DeadlineRule, Mapping[str, Any], str | None]],
        sequences: Mapping[tuple[int, str], int],
        series: Mapping[tuple[int, str], int],
        now: datetime,
    ) -> list[tuple[int, OpenedDeadline]]:
        """Insert the deadlines (and rungs) of ``opening``; return them by proposal id."""
        plans: list[PlannedDeadline] = []
        labels: list[str] = []
        rows: list[dict[str, Any]] = []
        # plan_deadline is pure; only a rule read from a field depends on the proposal, so
        # the proposals of one bulk command share one plan per (rule, time entered).
        shared: dict[tuple[int, datetime], PlannedDeadline | None] = {}
        for change, rule, data, reset in opening:
            entered = _entered(change)
            if rule.field is None:
                slot = (id(rule), entered)
                if slot not in shared:
                    shared[slot] = self._plans.plan(rule, entered, data, self.setting, now)
                planned = shared[slot]
            else:
                planned = self._plans.plan(rule, entered, data, self.setting, now)
            if planned is None:
                log.info("%s: no %s deadline (its date is not known)", change.key, rule.kind)
                continue
            sequence = 0 if reset is None else sequences.get((change.proposal_id, reset), -1) + 1
            plans.append(planned)
            labels.append(rule.label)
            rows.append(
                {
                    "proposal_id": change.proposal_id,
                    "proposal_key": change.key,
                    "kind": rule.kind,
                    "state": rule.state,
                    "entry_seq": change.seq,
                    "due_at": planned.due_at,
                    "status": OPEN,
                    "sequence": sequence,
                    "created_at": now,
                    "series_id": None if reset is None else series.get((change.proposal_id, reset)),
                }
            )
        ids = store.insert_deadlines(
            conn, rows, [[(rung.name, fire_at) for rung, fire_at in p.rungs] for p in plans]
        )
        # a deadline's series is its first period: itself, or what the reset met
        return [
            (
                row["proposal_id"],
                OpenedDeadline(
                    i, row["kind"], label, row["due_at"], row["sequence"], row["series_id"] or i
                ),
            )
            for i, row, label in zip(ids, rows, labels, strict=True)
        ]


def _entered(change: Applied) -> datetime:
    """When the state of ``change`` was entered: at the change itself, except for a migration
    that keeps the state, whose deadlines stay anchored at the original entry."""
    if change.kind == "migration":
        entered: datetime = change.proposal["state_entered_at"]
        return entered
    return change.at
