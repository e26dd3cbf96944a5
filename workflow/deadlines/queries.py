"""Reading deadlines: which are open, due or overdue (``ruhrflow deadlines``, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from workflow.engine.definitions import Machines
from workflow.process.calendar import anchor, local_date
from workflow.process.deadline_rules import OPEN, rule_of
from workflow.store.db import Store
from workflow.store.schema import deadline_rungs, deadlines, proposals


def list_open_deadlines(
    store: Store,
    machines: Machines,
    now: datetime,
    *,
    overdue: bool = False,
    due_until: datetime | None = None,
    lead: str | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (of the proposals' current states), soonest first, as plain rows.

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due between now
    and then; both together keep either.
    """
    pending = (
        select(
            deadline_rungs.c.deadline_id,
            func.min(deadline_rungs.c.fire_at).label("next_at"),
        )
        .where(deadline_rungs.c.fired_at.is_(None), deadline_rungs.c.cancelled_at.is_(None))
        .group_by(deadline_rungs.c.deadline_id)
        .subquery()
    )
    stmt = (
        select(
            deadlines.c.id,
            deadlines.c.kind,
            deadlines.c.due_at,
            deadlines.c.sequence,
            proposals.c.key,
            proposals.c.title,
            proposals.c.lead,
            proposals.c.state,
            proposals.c.definition_id,
            pending.c.next_at,
        )
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .join(pending, pending.c.deadline_id == deadlines.c.id, isouter=True)
        .where(deadlines.c.status == OPEN, deadlines.c.state == proposals.c.state)
        .order_by(deadlines.c.due_at, proposals.c.key)
    )
    windows = []
    if overdue:
        windows.append(deadlines.c.due_at <= now)
    if due_until is not None:
        windows.append(and_(deadlines.c.due_at > now, deadlines.c.due_at <= due_until))
    if windows:
        stmt = stmt.where(or_(*windows))
    if lead is not None:
        stmt = stmt.where(func.upper(proposals.c.lead) == lead.upper())
    rows = []
    with store.read() as conn:
        for r in conn.execute(stmt).mappings():
            definition = machines.definition(conn, r["definition_id"])
            rule = rule_of(definition, r["kind"])
            next_rung = None
            if rule is not None and r["next_at"] is not None:
                next_rung = next(
                    (
                        rung.name
                        for rung in rule.rungs
                        if anchor(rung.fire_date(local_date(r["due_at"])), rule.at) == r["next_at"]
                    ),
                    None,
                )
            rows.append(
                {
                    "key": r["key"],
                    "lead": r["lead"],
                    "state": r["state"],
                    "deadline": r["kind"],
                    "label": rule.label if rule else r["kind"],
                    "due_at": r["due_at"],
                    "overdue": r["due_at"] <= now,
                    "next_rung": next_rung,
                    "next_at": r["next_at"],
                    "period": r["sequence"],
                }
            )
    return rows
