"""The public progress reports, derived from the data: status, lead times, overdue.

Status groups: the words of the public Fortschrittsberichte. Each state of the
definition names its group (``public:``). Counted in the reports are the projects the
cabinet decided: **in Prüfung** (decided, still being examined or financed, not yet in
implementation), **in Umsetzung**, **abgeschlossen**, **nicht weiterverfolgt**.
Proposals before the decision are **in Vorbereitung**; those closed without becoming a
counted project (rejected, withdrawn, merged) are **nicht gezählt**: both are listed
after the four public groups and are not part of their total.

A state that the newest definition does not know (an older version's) is grouped as
the version that knows it would be if it names no group: final → nicht gezählt,
phase ``handeln`` → in Umsetzung, else in Vorbereitung.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from workflow.access.directory import Directory
from workflow.errors import StoreUnavailable
from workflow.process.definition import Definition, parse_definition
from workflow.store import repo, reports
from workflow.store.db import Connection

IN_PRUEFUNG = "in Prüfung"
IN_UMSETZUNG = "in Umsetzung"
ABGESCHLOSSEN = "abgeschlossen"
NICHT_WEITERVERFOLGT = "nicht weiterverfolgt"
GROUPS = (IN_PRUEFUNG, IN_UMSETZUNG, ABGESCHLOSSEN, NICHT_WEITERVERFOLGT)
IN_VORBEREITUNG = "in Vorbereitung"
NICHT_GEZAEHLT = "nicht gezählt"
OUTSIDE = (IN_VORBEREITUNG, NICHT_GEZAEHLT)  # listed apart, not in the public total
TOTAL = "gesamt"


def newest_definition(conn: Connection) -> Definition:
    """The newest registered definition (its states, phases and Handlungsfelder)."""
    row = repo.newest_definition(conn)
    if row is None:
        raise StoreUnavailable("no process definition registered: run `ruhrflow init`")
    return parse_definition(row["source"], f"{row['name']} v{row['version']}")


def status_group(state: str, definition: Definition) -> str:
    """The public status word of a state, as the definition names it (``public:``)."""
    s = definition.states.get(state)
    if s is not None and s.public:
        return s.public
    if s is not None and s.final:
        return NICHT_GEZAEHLT
    if s is not None and s.phase == "handeln":
        return IN_UMSETZUNG
    return IN_VORBEREITUNG


def status_report(
    conn: Connection,
    definition: Definition,
    states: Iterable[tuple[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """Proposals per state and Handlungsfeld, with a total row per group and overall.

    Columns: group, state, label, ``hf1``…``hfN`` and ``total``. Every state of the
    definition appears (zero rows included), in definition order within its group. The
    four public groups come first and the ``gesamt`` row totals them; then the
    proposals in Vorbereitung and the ones nicht gezählt, each with its subtotal.
    ``states`` gives (state, Handlungsfeld) pairs to count (a reconstruction as of a
    date); without it, the proposals as they are now.
    """
    fields = sorted(definition.handlungsfelder)
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    if states is None:
        for state, hf, n in reports.state_counts(conn):
            counts[state][hf] += n
    else:
        for state, hf in states:
            counts[state][hf] += 1
    rows: list[dict[str, Any]] = []
    overall: dict[int, int] = defaultdict(int)
    known = list(definition.states) + sorted(set(counts) - set(definition.states))
    for group in (*GROUPS, *OUTSIDE):
        subtotal: dict[int, int] = defaultdict(int)
        for state in known:
            if status_group(state, definition) != group:
                continue
            by_hf = counts.get(state, {})
            rows.append(_status_row(group, state, definition.state_label(state), by_hf, fields))
            for hf, n in by_hf.items():
                subtotal[hf] += n
                if group in GROUPS:
                    overall[hf] += n
        rows.append(_status_row(group, TOTAL, "", subtotal, fields))
        if group == GROUPS[-1]:
            rows.append(_status_row(TOTAL, TOTAL, "", overall, fields))
    return rows


def group_totals(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The subtotal of every group (the four public ones, then the two outside) from
    :func:`status_report` rows."""
    return {r["group"]: r["total"] for r in rows if r["state"] == TOTAL and r["group"] != TOTAL}


def _status_row(
    group: str, state: str, label: str, by_hf: Any, fields: Sequence[int]
) -> dict[str, Any]:
    row: dict[str, Any] = {"group": group, "state": state, "label": label}
    for hf in fields:
        row[f"hf{hf}"] = by_hf.get(hf, 0)
    row["total"] = sum(by_hf.values())
    return row


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile with linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * fraction
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def lead_times(
    conn: Connection, definition: Definition, before: datetime | None = None
) -> list[dict[str, Any]]:
    """Median and 90th percentile of days spent per phase and per state.

    From the history: a stay begins with the entry that moved a proposal into a state
    (or created it) and ends with the entry that moved it out. Stays still going on are
    not counted (their length is not known yet); ``n`` says how many stays were. With
    ``before`` (a cut-off), only entries before it count: the stays finished by then.
    """
    stays: dict[tuple[str, str], list[float]] = defaultdict(list)
    chain: str | None = None
    state: str | None = None
    phase: str | None = None
    state_since = phase_since = datetime.min
    for row in reports.state_entries(conn, before):
        if row.chain != chain:
            chain, state, phase = row.chain, None, None
        if row.to_state == state:
            continue  # an event inside the state (progress report, statement, reminder)
        new_phase = _phase_of(row.to_state, definition)
        if state is not None:
            stays[("state", state)].append(_days(row.at - state_since))
        if phase is not None and new_phase != phase:
            stays[("phase", phase)].append(_days(row.at - phase_since))
        if new_phase != phase:
            phase, phase_since = new_phase, row.at
        state, state_since = row.to_state, row.at
    rows = []
    order = [("phase", p) for p in definition.phases] + [("state", s) for s in definition.states]
    order += sorted(set(stays) - set(order))
    for level, name in order:
        values = stays.get((level, name))
        if not values:
            continue
        if level == "phase":
            label = definition.phases.get(name, name)
        else:
            label = definition.state_label(name)
        rows.append(
            {
                "level": level,
                "name": name,
                "label": label,
                "n": len(values),
                "median_days": round(percentile(values, 0.5), 2),
                "p90_days": round(percentile(values, 0.9), 2),
            }
        )
    return rows


def _phase_of(state: str, definition: Definition) -> str:
    s = definition.states.get(state)
    return s.phase if s is not None else "?"


def _days(delta: Any) -> float:
    return float(delta.total_seconds()) / 86_400


def overdue(
    conn: Connection, now: datetime, directory: Directory, *, historical: bool = False
) -> list[dict[str, Any]]:
    """Open deadlines past due at ``now``, per lead ministry (code order), oldest first.

    ``historical``: ``now`` is a past cut-off; a deadline counts when it existed then
    and was closed only later (a recurring deadline shows its current period's due time).
    """
    by_lead: dict[str, dict[str, Any]] = {}
    for row in reports.overdue_deadlines(conn, now, historical=historical):
        group = by_lead.get(row.lead)
        if group is None:
            ministry = directory.ministry(row.lead)
            group = by_lead[row.lead] = {
                "ministry": row.lead,
                "name": ministry.name if ministry else row.lead,
                "overdue": 0,
                "deadlines": [],
            }
        group["overdue"] += 1
        group["deadlines"].append(
            {
                "key": row.key,
                "title": row.title,
                "kind": row.kind,
                "state": row.state,
                "due_at": row.due_at,
                "days_overdue": round(_days(now - row.due_at), 1),
            }
        )
    return list(by_lead.values())


# Entries that move a proposal through its process (the creation enters the initial state).
_MOVES = ("transition", "created")


def stuck_reason(definition: Definition, state_id: str, idle: int, days: int) -> str | None:
    """Why a proposal in ``state_id`` of ``definition``, ``idle`` days without a transition,
    is stuck — or None. A final state never is; a state unknown to its version, or one no
    transition leaves, always is; any other after ``days`` days."""
    state = definition.states.get(state_id)
    if state is None:
        return f"state {state_id!r} is not in version {definition.version}"
    if state.final:
        return None
    if not any(t.dest != state_id for t in definition.triggers_from(state_id)):
        return f"no transition leaves {state_id!r} in version {definition.version}"
    if idle >= days:
        return f"no transition for {idle} days"
    return None


def stuck(conn: Connection, now: datetime, days: int) -> list[dict[str, Any]]:
    """Proposals that do not move, by key: in a state of their version with no transition
    leaving it although it is not final (a dead end, e.g. after a careless migration), or
    in a state that is not final whose last transition is ``days`` days or more before
    ``now``. Each row says why (``reason``) and since when (``since``, the last transition).
    """
    versions: dict[int, Definition] = {}
    rows: list[dict[str, Any]] = []
    for r in reports.last_moves(conn, _MOVES):
        definition = versions.get(r.definition_id)
        if definition is None:
            row = repo.definition_row(conn, r.definition_id)
            assert row is not None  # a foreign key
            definition = versions[r.definition_id] = parse_definition(
                row["source"], f"{row['name']} v{row['version']}"
            )
        since: datetime = r.last_at or r.created_at
        idle = (now - since).days
        reason = stuck_reason(definition, r.state, idle, days)
        if reason is None:
            continue
        rows.append(
            {
                "key": r.key,
                "title": r.title,
                "lead": r.lead,
                "state": r.state,
                "definition_version": definition.version,
                "since": since.isoformat(),
                "days": idle,
                "reason": reason,
            }
        )
    return rows
