"""The sweep: fire every due reminder and escalation rung exactly once.

One pass asks the database which rungs are due (the partial index on pending rungs keeps
its cost proportional to what is due, not to the number of proposals) and, per rung, in
one write transaction: marks the rung fired (late when it fires long after its time),
appends a history entry as actor ``ruhrflow`` and calls ``on_rung`` — the hook through
which the notifications write an outbox notice with the rung's idempotency key.

Safe to run twice or in several processes at once:

* PostgreSQL: the proposals of due rungs are locked ``FOR UPDATE SKIP LOCKED`` (in id
  order, the same order transitions lock them), so two sweepers split the work; a rung
  is fired by ``UPDATE … WHERE fired_at IS NULL`` and counts only when that matched.
* SQLite: the write transaction begins ``IMMEDIATE``; writers queue and the second one
  finds the rungs fired.

A rung of a state the proposal has left is never fired: leaving a state closes the
deadline and cancels its pending rungs in the transition's transaction, and the sweep
checks the deadline is open and the proposal still in its state.

Catching up after downtime sends no burst of stale mail. A reminder whose deadline has
passed by the time it would be sent is *skipped*: marked fired, recorded in the history
(``rung_skipped``), no notice. Of several late rungs of one deadline due in the same pass,
only the latest gives a notice (which says it is late, and since when); the earlier ones are
skipped the same way.

The statements are in :mod:`workflow.store.sweep`; the sweep takes what it uses — the store,
the definitions registry and the engine's ``append_event`` — not the engine.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from workflow.engine.changes import AppendEvent, Applied, RungInfo
from workflow.engine.definitions import Machines
from workflow.process.deadline_rules import ESCALATION, REMINDER, rule_of
from workflow.progress import ProgressCallback
from workflow.store import repo
from workflow.store import sweep as sweep_store
from workflow.store.db import Connection, RowMapping, Store

log = logging.getLogger("ruhrflow.sweep")

SCHEDULER_ACTOR = "ruhrflow"
SKIPPED = "rung_skipped"  # history kind of a rung recorded without a notice
DEADLINE_PASSED = "deadline passed"
SUPERSEDED = "superseded by a later rung"
DEFAULT_LATE_AFTER = timedelta(minutes=5)
DEFAULT_BATCH = 200


OnRung = Callable[[Connection, Applied, RungInfo, datetime], None]
"""Called in the sweep's transaction after a rung's history entry: (conn, applied, rung, now)."""


@dataclass
class SweepResult:
    """What one pass did."""

    now: datetime
    fired: list[RungInfo] = field(default_factory=list)
    skipped: list[RungInfo] = field(default_factory=list)  # recorded, no notice

    def counts(self) -> dict[str, int]:
        """Fired rungs by kind (reminder, escalation), how many were late, how many skipped."""
        by_kind = Counter(r.kind for r in self.fired)
        return {
            REMINDER: by_kind[REMINDER],
            ESCALATION: by_kind[ESCALATION],
            "late": sum(r.late for r in self.fired),
            "skipped": len(self.skipped),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary with every fired and every skipped rung."""
        return {
            "now": self.now.isoformat(),
            "counts": self.counts(),
            "fired": [r.as_dict() for r in self.fired],
            "skipped": [r.as_dict() for r in self.skipped],
        }


def sweep(
    store: Store,
    machines: Machines,
    append_event: AppendEvent,
    now: datetime,
    *,
    on_rung: OnRung | None = None,
    late_after: timedelta = DEFAULT_LATE_AFTER,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """Fire every rung due at ``now``; each in the transaction of its batch.

    ``on_rung(conn, applied, rung_info, now)`` runs after the rung's history entry, in the
    same transaction (the outbox hook). Returns what was fired by this process.
    ``progress(rungs handled so far — fired or skipped —, None)`` hears of every committed
    batch.
    """
    result = SweepResult(now)
    while True:
        with store.write() as conn:
            done, handled = _sweep_batch(
                machines, append_event, conn, now, on_rung, late_after, batch_size
            )
        result.fired.extend(r for r in done if r.skipped is None)
        result.skipped.extend(r for r in done if r.skipped is not None)
        if progress is not None and done:
            progress(len(result.fired) + len(result.skipped), None)
        if not handled:  # nothing due, or what is due is being handled by another sweeper
            break
    log.debug(
        "sweep at %s: %s",
        now.isoformat(timespec="seconds"),
        " ".join(f"{k}={v}" for k, v in result.counts().items()),
    )
    return result


def _sweep_batch(
    machines: Machines,
    append_event: AppendEvent,
    conn: Connection,
    now: datetime,
    on_rung: OnRung | None,
    late_after: timedelta,
    batch_size: int,
) -> tuple[list[RungInfo], int]:
    """Fire the due rungs of up to ``batch_size`` rungs' proposals; (fired or skipped, rungs
    handled)."""
    proposal_ids = sweep_store.due_proposal_ids(conn, now, batch_size)
    if not proposal_ids:
        return [], 0
    rows = sweep_store.lock_proposals(conn, proposal_ids)
    if not rows:
        return [], 0
    due_rungs = sweep_store.due_rungs(conn, now, rows)
    fired: list[RungInfo] = []
    handled = 0
    # The last due rung of each deadline (rows come in fire_at order): the one a catch-up mails.
    last_of = {rung["deadline_id"]: rung["rung_id"] for rung in due_rungs}
    for rung in due_rungs:
        handled += 1
        row = rows[rung["proposal_id"]]
        if row["state"] != rung["deadline_state"]:  # cannot happen while the effect runs
            sweep_store.cancel_rung(conn, rung["rung_id"], now)
            continue
        info = _info(machines, conn, row, rung, now, late_after)
        skipped = _skip_reason(info, now, last_of[rung["deadline_id"]] != rung["rung_id"])
        if skipped is not None:
            info = replace(info, skipped=skipped)
        if not sweep_store.claim_rung(conn, rung["rung_id"], now, late=info.late):
            continue
        data = {
            "deadline": info.deadline,
            "rung": info.rung,
            "due_at": info.due_at.isoformat(),
            "fire_at": info.fire_at.isoformat(),
            "late": info.late,
            "recipients": list(info.recipients),
        }
        if skipped is not None:
            data["skipped"] = skipped
        applied = append_event(
            conn,
            row,
            kind=info.kind if skipped is None else SKIPPED,
            trigger=f"{info.deadline}.{info.rung}",
            actor=SCHEDULER_ACTOR,
            now=now,
            data=data,
        )
        if on_rung is not None and skipped is None:
            on_rung(conn, applied, info, now)
        reloaded = repo.load_proposal(conn, info.key)
        assert reloaded is not None
        rows[row["id"]] = reloaded
        fired.append(info)
    return fired, handled


def _skip_reason(info: RungInfo, now: datetime, later_rung_due: bool) -> str | None:
    """Why ``info`` gives no notice at ``now``, or None when it does.

    A reminder after its deadline has nothing left to remind of; a late rung followed by a
    later one of the same deadline in this pass would only be read next to it.
    """
    if info.kind == REMINDER and info.due_at <= now:
        return DEADLINE_PASSED
    if info.late and later_rung_due:
        return SUPERSEDED
    return None


def _info(
    machines: Machines,
    conn: Connection,
    row: RowMapping,
    rung: RowMapping,
    now: datetime,
    late_after: timedelta,
) -> RungInfo:
    definition = machines.get(conn, row["definition_id"]).definition
    rule = rule_of(definition, rung["deadline"])
    spec = rule.rung(rung["rung"]) if rule is not None else None
    kind = spec.kind if spec else (REMINDER if rung["rung"].startswith("remind") else ESCALATION)
    return RungInfo(
        rung_id=rung["rung_id"],
        deadline_id=rung["deadline_id"],
        proposal_id=row["id"],
        key=row["key"],
        lead=row["lead"],
        state=row["state"],
        deadline=rung["deadline"],
        label=rule.label if rule else rung["deadline"],
        rung=rung["rung"],
        kind=kind,
        recipients=spec.recipients if spec else (),
        due_at=rung["due_at"],
        fire_at=rung["fire_at"],
        late=now - rung["fire_at"] > late_after,
    )


# --- looking ahead without writing ------------------------------------------------------------


def simulate(
    store: Store,
    machines: Machines,
    now: datetime,
    until: datetime,
    *,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> list[RungInfo]:
    """The rungs that would fire from ``now`` up to ``until``, in order; writes nothing.

    Rungs already due fire at the next sweep (at ``now``; ``late`` as the sweep would mark
    them), under the sweep's catch-up rule: a reminder whose deadline has passed, and a late
    rung with a later one of its deadline due in the same pass, are recorded without a notice
    (``skipped`` says why). Deadlines that later transitions would create are not foreseen.
    """
    with store.read() as conn:
        rungs = sweep_store.pending_rungs(conn, until)
        rows = sweep_store.proposals_by_id(conn, {r["proposal_id"] for r in rungs})
        # the last rung of each deadline due at the next sweep: the one a catch-up mails
        last_of = {r["deadline_id"]: r["rung_id"] for r in rungs if r["fire_at"] <= now}
        result = []
        for rung in rungs:
            row = rows[rung["proposal_id"]]
            if row["state"] != rung["deadline_state"]:
                continue
            at = max(now, rung["fire_at"])
            info = _info(machines, conn, row, rung, at, late_after)
            superseded = rung["fire_at"] <= now and last_of[rung["deadline_id"]] != rung["rung_id"]
            skipped = _skip_reason(info, at, superseded)
            result.append(info if skipped is None else replace(info, skipped=skipped))
        return result
