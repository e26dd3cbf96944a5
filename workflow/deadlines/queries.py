"""Reading deadlines: which are open, due or overdue (``ruhrflow deadlines``, reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from workflow.engine.definitions import Machines
from workflow.process.calendar import anchor, local_date
from workflow.process.deadline_rules import OPEN, DeadlineRule, rule_of
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
    offset: int = 0,
    rungs: bool = True,
) -> list[dict[str, Any]]:
    """Open deadlines (of the proposals' current states), soonest first, as plain rows.

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due between now
    and then; both together keep either. ``lead`` and ``key`` narrow to one ministry or one
    proposal; ``limit`` keeps the first rows only, chosen by the database (the worklist shows
    a page of them: its cost must not grow with every open deadline there is). ``rungs=False``
    leaves out the next rung (``next_rung``, ``next_at``) for readers that do not show it:
    finding its name recomputes the rule's rung dates, most of the cost of a row.
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
        proposals.c.key,
        proposals.c.lead,
        proposals.c.state,
        deadlines.c.kind,
        deadlines.c.due_at,
        deadlines.c.sequence,
        proposals.c.definition_id,
        *([next_at] if rungs else []),
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
    if offset:
        stmt = stmt.offset(offset)
    return _rows(store, machines, stmt, now, rungs=rungs)


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
    store: Store, machines: Machines, stmt: Select[Any], now: datetime, *, rungs: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rules: dict[tuple[int, str], DeadlineRule | None] = {}  # the rows share a few rules
    with store.read() as conn:
        for key, lead, state, kind, due_at, period, definition_id, *rest in conn.execute(stmt):
            if (definition_id, kind) not in rules:
                definition = machines.definition(conn, definition_id)
                rules[definition_id, kind] = rule_of(definition, kind)
            rule = rules[definition_id, kind]
            row = {
                "key": key,
                "lead": lead,
                "state": state,
                "deadline": kind,
                "label": rule.label if rule else kind,
                "due_at": due_at,
                "overdue": due_at <= now,
            }
            if rungs:
                row["next_rung"] = _rung_name(rule, due_at, rest[0])
                row["next_at"] = rest[0]
            row["period"] = period
            rows.append(row)
    return rows


def _rung_name(rule: DeadlineRule | None, due_at: datetime, next_at: datetime | None) -> str | None:
    """The name of the rung that fires at ``next_at`` (its dates recomputed from the rule)."""
    if rule is None or next_at is None:
        return None
    return next(
        (
            rung.name
            for rung in rule.rungs
            if anchor(rung.fire_date(local_date(due_at)), rule.at) == next_at
        ),
        None,
    )


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
