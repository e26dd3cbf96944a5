"""Reading deadlines: which are open, due or overdue (``ruhrflow deadlines``, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

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
    key: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (of the proposals' current states), soonest first, as plain rows.

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due between now
    and then; both together keep either. ``lead`` and ``key`` narrow to one ministry or one
    proposal; ``limit`` keeps the first rows only, chosen by the database (the worklist shows
    a page of them: its cost must not grow with every open deadline there is).
    """
    # the next rung per deadline, looked up for the rows returned only (a correlated
    # subquery on the rungs' unique (deadline_id, rung) index, not a GROUP BY over all rungs)
    next_at = (
        select(func.min(deadline_rungs.c.fire_at))
        .where(
            deadline_rungs.c.deadline_id == deadlines.c.id,
            deadline_rungs.c.fired_at.is_(None),
            deadline_rungs.c.cancelled_at.is_(None),
        )
        .scalar_subquery()
        .label("next_at")
    )
    stmt = _open(lead=lead, key=key).add_columns(
        deadlines.c.id,
        deadlines.c.kind,
        deadlines.c.due_at,
        deadlines.c.sequence,
        proposals.c.key,
        proposals.c.title,
        proposals.c.lead,
        proposals.c.state,
        proposals.c.definition_id,
        next_at,
    )
    stmt = stmt.order_by(deadlines.c.due_at, proposals.c.key)
    windows = []
    if overdue:
        windows.append(deadlines.c.due_at <= now)
    if due_until is not None:
        windows.append(and_(deadlines.c.due_at > now, deadlines.c.due_at <= due_until))
    if windows:
        stmt = stmt.where(or_(*windows))
    if limit is not None:
        stmt = stmt.limit(limit)
    return _rows(store, machines, stmt, now)


def _open(*, lead: str | None, key: str | None) -> Select[Any]:
    """Open deadlines of the proposals' current states, joined to their proposal."""
    stmt = (
        select()
        .select_from(deadlines)
        .join(proposals, proposals.c.id == deadlines.c.proposal_id)
        .where(deadlines.c.status == OPEN, deadlines.c.state == proposals.c.state)
    )
    if lead is not None:
        stmt = stmt.where(func.upper(proposals.c.lead) == lead.upper())
    if key is not None:
        stmt = stmt.where(proposals.c.key == key)
    return stmt


def _rows(
    store: Store, machines: Machines, stmt: Select[Any], now: datetime
) -> list[dict[str, Any]]:
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


def open_rungs_of(store: Store, key: str) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The rungs (reminders, escalations) of one proposal's open deadlines, by time.

    ``{(deadline kind, period): [{"rung", "fire_at", "fired_at", "late", "cancelled_at"}]}``
    — the keys of :func:`list_open_deadlines`' ``deadline`` and ``period``; one statement.
    """
    r = deadline_rungs.c
    stmt = (
        _open(lead=None, key=key)
        .join(deadline_rungs, r.deadline_id == deadlines.c.id)
        .add_columns(
            deadlines.c.kind,
            deadlines.c.sequence,
            r.rung,
            r.fire_at,
            r.fired_at,
            r.late,
            r.cancelled_at,
        )
        .order_by(deadlines.c.id, r.fire_at, r.rung)
    )
    found: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with store.read() as conn:
        for row in conn.execute(stmt).mappings():
            rung = {k: row[k] for k in ("rung", "fire_at", "fired_at", "late", "cancelled_at")}
            found.setdefault((row["kind"], row["sequence"]), []).append(rung)
    return found
