"""Reading deadlines: which are open, due or overdue (``ruhrflow deadlines``, reports)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from workflow.engine.definitions import Machines
from workflow.process.calendar import anchor, local_date
from workflow.process.deadline_rules import DeadlineRule, rule_of
from workflow.store import worklist
from workflow.store.db import Connection, Store


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
    themenforum: int | None = None,
) -> list[dict[str, Any]]:
    """Open deadlines (of the proposals' current states), soonest first, as plain rows.

    ``overdue`` keeps those due at or before ``now``; ``due_until`` those due between now
    and then; both together keep either. ``lead``, ``themenforum`` and ``key`` narrow to one
    ministry, one Themenforum or one proposal; ``limit`` keeps the first rows only, chosen
    by the database (the worklist shows a page of them: its cost must not grow with every
    open deadline there is). ``rungs=False``
    leaves out the next rung (``next_rung``, ``next_at``) for readers that do not show it:
    finding its name recomputes the rule's rung dates, most of the cost of a row.
    """
    with store.read() as conn:
        found = worklist.open_deadlines(
            conn,
            now,
            overdue=overdue,
            due_until=due_until,
            lead=lead,
            themenforum=themenforum,
            key=key,
            limit=limit,
            offset=offset,
            rungs=rungs,
        )
        return _rows(conn, machines, found, now, rungs=rungs)


def _rows(
    conn: Connection, machines: Machines, found: Iterable[Any], now: datetime, *, rungs: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rules: dict[tuple[int, str], DeadlineRule | None] = {}  # the rows share a few rules
    for key, lead, state, kind, due_at, period, definition_id, *rest in found:
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
    found: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with store.read() as conn:
        for row in worklist.open_rungs(conn, key):
            rung = {k: row[k] for k in ("rung", "fire_at", "fired_at", "late", "cancelled_at")}
            found.setdefault((row["kind"], row["sequence"]), []).append(rung)
    return found
