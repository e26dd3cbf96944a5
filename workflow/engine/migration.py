"""Moving running proposals to another definition version: the plan (a dry run).

A migration is planned before it is applied, like Django's ``migration_plan`` before
``apply_migration``: :func:`plan_migration` reads the selected proposals and answers, for
each, from which version and state it would move to which state of the target version,
which deadlines it would close and open, and whether it can move at all. It writes nothing.
``Engine.migrate`` applies the same plan in one transaction.

Rules of the plan:

* a state maps to the state with the same id in the target version unless ``--map OLD=NEW``
  says otherwise; every map must name a state of the target version;
* a plan that leaves an occupied state without a target is refused as a whole (bad input,
  naming the state and how many proposals sit in it);
* a proposal can move when the fields its target state requires (:meth:`Definition.
  state_requires`) are in its data or given with ``--set``, and it is not on the target
  version already.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workflow.engine.definitions import Machines
from workflow.errors import InvalidInput, UnknownProposal, WorkflowError
from workflow.process.deadline_rules import plan_deadline
from workflow.process.definition import Definition
from workflow.process.fields import parse_fields
from workflow.store import deadlines as deadline_store
from workflow.store import repo
from workflow.store.db import Connection

MIGRATE_TRIGGER = "migrate"
MIGRATION_KIND = "migration"


@dataclass(frozen=True)
class OpeningDeadline:
    """A deadline the target state would open (``due_at`` None: its date is not known)."""

    kind: str
    due_at: datetime | None


@dataclass(frozen=True)
class MigrationItem:
    """What the migration would do to one proposal."""

    key: str
    from_version: int
    from_hash: str
    from_state: str
    to_state: str
    closes: tuple[str, ...]  # kinds of the open deadlines it would close
    opens: tuple[OpeningDeadline, ...]
    reasons: tuple[str, ...]  # why it cannot move (empty: it can)
    row: Mapping[Any, Any]

    @property
    def can_move(self) -> bool:
        """True when nothing keeps the proposal from moving."""
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (``migrate plan --format json``)."""
        return {
            "key": self.key,
            "from_version": self.from_version,
            "from_hash": self.from_hash,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "closes": list(self.closes),
            "opens": [
                {"kind": d.kind, "due_at": d.due_at.isoformat() if d.due_at else None}
                for d in self.opens
            ],
            "can_move": self.can_move,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class MigrationPlan:
    """The whole plan: the target version and one item per selected proposal."""

    to_definition_id: int
    to_version: int
    to_hash: str
    target: Definition
    fields: Mapping[str, Any]
    items: list[MigrationItem]
    state_map: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[int, tuple[int, str]] = field(default_factory=dict)  # by definition id

    @property
    def movable(self) -> list[MigrationItem]:
        """The items that can move."""
        return [i for i in self.items if i.can_move]


@dataclass(frozen=True)
class Moved:
    """One proposal a migration moved: its key, states and the seq of its migration entry."""

    key: str
    from_state: str
    to_state: str
    seq: int


@dataclass
class MigrationResult:
    """What ``migrate apply`` did: the proposals moved and, with ``partial``, those refused."""

    planned: int = 0
    moved: list[Moved] = field(default_factory=list)
    refused: list[tuple[str, WorkflowError]] = field(default_factory=list)


def parse_state_map(pairs: Iterable[str]) -> dict[str, str]:
    """``["cabinet=kabinett"]`` → ``{"cabinet": "kabinett"}``; a malformed pair is bad input."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old.isidentifier() or not new.isidentifier():
            raise InvalidInput(f"--map expects OLD=NEW (two state ids), not {pair!r}")
        if old in mapping and mapping[old] != new:
            raise InvalidInput(f"--map maps state {old!r} twice ({mapping[old]}, {new})")
        mapping[old] = new
    return mapping


def target_row(conn: Connection, version: int) -> Mapping[Any, Any]:
    """The registered definition ``version``; an unknown version is bad input."""
    row = repo.definition_by_version(conn, version)
    if row is None:
        known = ", ".join(str(v) for v, _ in sorted(repo.definition_versions(conn).values()))
        raise InvalidInput(f"unknown definition version {version} (registered: {known or 'none'})")
    return row


def plan_migration(
    conn: Connection,
    machines: Machines,
    *,
    to_version: int,
    state_map: Mapping[str, str],
    raw_fields: Mapping[str, Any],
    keys: Sequence[str] | None,
    where_state: str | None,
    deadline_setting: Mapping[str, Any],
    now: datetime,
    lock: bool = False,
) -> MigrationPlan:
    """Plan moving the selected proposals to ``to_version`` (writes nothing): every item.

    The selection is ``keys``, or every proposal in ``where_state``, or (neither) every
    proposal not on ``to_version`` yet. Raises InvalidInput for an unknown version, a map to
    a state the target lacks, or an occupied state left without a target.
    """
    plan = begin_plan(
        conn, machines, to_version=to_version, state_map=state_map, raw_fields=raw_fields,
        keys=keys, where_state=where_state,
    )  # fmt: skip
    for chunk in plan_chunks(
        conn, machines, plan, keys=keys, where_state=where_state,
        deadline_setting=deadline_setting, now=now, lock=lock,
    ):  # fmt: skip
        plan.items.extend(chunk)
    return plan


def begin_plan(
    conn: Connection,
    machines: Machines,
    *,
    to_version: int,
    state_map: Mapping[str, str],
    raw_fields: Mapping[str, Any],
    keys: Sequence[str] | None,
    where_state: str | None,
) -> MigrationPlan:
    """The checks of the plan as a whole, and its head (no items yet: :func:`plan_chunks`).

    Which states are occupied is one query (``GROUP BY state``), so a plan that leaves one
    without a target is refused before any proposal is read.
    """
    if keys is not None and where_state is not None:
        raise InvalidInput("name the proposals either by key or by --where state=S")
    target_def_row = target_row(conn, to_version)
    target_id = int(target_def_row["id"])
    target = machines.definition(conn, target_id)
    for old, new in state_map.items():
        if new not in target.states:
            raise InvalidInput(f"--map {old}={new}: version {to_version} has no state {new!r}")
    fields = parse_fields(target, raw_fields)
    versions = repo.definition_versions(conn)
    # A map from a state no registered version has is a typo (a stale one is harmless).
    known_states = {s for i in versions for s in machines.definition(conn, i).states}
    for old in state_map:
        if old not in known_states:
            raise InvalidInput(f"--map {old}={state_map[old]}: no version has a state {old!r}")
    if keys is None:
        occupied = repo.state_counts(conn, state=where_state, not_on_definition=target_id)
    else:
        occupied = {}
        for row in _rows_of_keys(conn, keys, lock=False):
            occupied[row["state"]] = occupied.get(row["state"], 0) + 1
    _refuse_unmapped(occupied, state_map, target, to_version)
    return MigrationPlan(
        to_definition_id=target_id,
        to_version=to_version,
        to_hash=str(target_def_row["content_hash"]),
        target=target,
        fields=fields,
        items=[],
        state_map=dict(state_map),
        versions=versions,
    )


def _rows_of_keys(conn: Connection, keys: Sequence[str], *, lock: bool) -> list[Mapping[Any, Any]]:
    rows = repo.load_proposals(conn, keys=keys, lock=lock)
    if len(rows) < len(keys):
        found = {r["key"] for r in rows}
        raise UnknownProposal(next(k for k in keys if k not in found))
    return rows


def plan_chunks(
    conn: Connection,
    machines: Machines,
    plan: MigrationPlan,
    *,
    keys: Sequence[str] | None,
    where_state: str | None,
    deadline_setting: Mapping[str, Any],
    now: datetime,
    lock: bool = False,
) -> Iterator[list[MigrationItem]]:
    """The items of ``plan``, a chunk of proposals at a time (memory stays flat)."""
    if keys is not None:
        chunks: Iterable[Sequence[Mapping[Any, Any]]] = [_rows_of_keys(conn, keys, lock=lock)]
    else:
        chunks = repo.proposal_chunks(
            conn, state=where_state, not_on_definition=plan.to_definition_id, lock=lock
        )
    shared: dict[tuple[int, datetime], OpeningDeadline] = {}
    for rows in chunks:
        yield _items(conn, plan, rows, deadline_setting, now, shared)


def _items(
    conn: Connection,
    plan: MigrationPlan,
    rows: Sequence[Mapping[Any, Any]],
    deadline_setting: Mapping[str, Any],
    now: datetime,
    shared: dict[tuple[int, datetime], OpeningDeadline],
) -> list[MigrationItem]:
    """What the migration does to each of ``rows``."""
    target, to_version = plan.target, plan.to_version
    open_kinds: dict[int, list[str]] = {}
    for _id, pid, _state, kind, _due, _seq in deadline_store.open_of(conn, [r["id"] for r in rows]):
        open_kinds.setdefault(pid, []).append(kind)
    items: list[MigrationItem] = []
    for row in rows:
        from_version, from_hash = plan.versions[row["definition_id"]]
        state = row["state"]
        to_state = plan.state_map.get(state, state)
        reasons: list[str] = []
        if row["definition_id"] == plan.to_definition_id:
            reasons.append(f"already on version {to_version}")
        data = {**(row["data"] or {}), **plan.fields}
        for name in target.state_requires(to_state):
            if name not in data:
                reasons.append(
                    f"missing field {name} (state {to_state!r} of version {to_version}"
                    f" requires it; give it with --set {name}=…)"
                )
        entered = row["state_entered_at"] if to_state == state else now
        opens: list[OpeningDeadline] = []
        for rule in target.deadline_rules:
            if rule.state != to_state:
                continue
            slot = (id(rule), entered)
            if rule.field is None and slot in shared:
                opens.append(shared[slot])
                continue
            planned = plan_deadline(rule, entered, data, deadline_setting, now)
            opening = OpeningDeadline(rule.kind, planned.due_at if planned else None)
            if rule.field is None:
                shared[slot] = opening
            opens.append(opening)
        items.append(
            MigrationItem(
                key=row["key"],
                from_version=from_version,
                from_hash=from_hash,
                from_state=state,
                to_state=to_state,
                closes=tuple(open_kinds.get(row["id"], ())),
                opens=tuple(opens),
                reasons=tuple(reasons),
                row=row,
            )
        )
    return items


def _refuse_unmapped(
    occupied: Mapping[str, int],
    state_map: Mapping[str, str],
    target: Definition,
    to_version: int,
) -> None:
    """Bad input when an occupied state has no target: the state and how many sit in it."""
    unmapped = {
        state: count
        for state, count in sorted(occupied.items())
        if state not in state_map and state not in target.states
    }
    if not unmapped:
        return
    state, count = next(iter(unmapped.items()))
    more = f" (and {len(unmapped) - 1} more unmapped states)" if len(unmapped) > 1 else ""
    raise InvalidInput(
        f"state {state!r} has no target in version {to_version}: {count} proposal(s) sit in it;"
        f" map it with --map {state}=STATE{more}"
    )


def migration_data(plan: MigrationPlan, item: MigrationItem) -> dict[str, Any]:
    """What the ``migration`` history entry of ``item`` records besides the states."""
    return {
        "from_version": item.from_version,
        "to_version": plan.to_version,
        "from_hash": item.from_hash,
        "to_hash": plan.to_hash,
    }
