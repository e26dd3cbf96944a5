"""What the engine hands out: the changes it applied, and the batch its effects share.

Plain values, no logic and no database: the deadline effect, the notifier, the CLI and the
web application read them without loading the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from workflow.errors import WorkflowError

if TYPE_CHECKING:
    from workflow.process.definition import Definition, TransitionDef
    from workflow.store.db import Connection


@dataclass(frozen=True)
class Applied:
    """One change written to a proposal (a transition or a recorded event)."""

    key: str
    proposal_id: int
    trigger: str
    from_state: str
    to_state: str
    actor: str
    comment: str | None
    fields: Mapping[Any, Any]
    seq: int
    at: datetime
    definition: Definition
    transition: TransitionDef | None
    proposal: Mapping[Any, Any]
    kind: str = "transition"  # the history entry's kind (transition, migration, statement, …)


_APPLIED_FIELDS = tuple(f.name for f in fields(Applied))
_new = object.__new__


def applied(**values: Any) -> Applied:
    """``Applied(**values)``, every field given in the order of the fields: the same
    instance without the frozen dataclass's ``object.__setattr__`` per field (a bulk advance
    makes one per proposal). Anything else is ``Applied(**values)`` itself."""
    if tuple(values) != _APPLIED_FIELDS:
        return Applied(**values)
    made: Applied = _new(Applied)
    made.__dict__.update(values)
    return made


@dataclass(frozen=True)
class BulkResult:
    """What a bulk advance applied and, with ``partial``, what it refused and why."""

    applied: list[Applied]
    refused: list[tuple[str, WorkflowError]] = field(default_factory=list)


@dataclass(frozen=True)
class TriggerOption:
    """A trigger leaving the current state, and whether it can fire now."""

    trigger: str
    label: str
    target: str
    can_fire: bool
    blocked_by: list[str]
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    blocked_by_de: list[str] = field(default_factory=list)  # the same, in German (the web)
    # which check blocks, one per reason (engine.options.Blocker.kind: state, role, missing, …)
    blocked_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenedDeadline:
    """A deadline a transition opened (what the notices of the transition show)."""

    id: int
    kind: str
    label: str
    due_at: datetime
    sequence: int
    # the first deadline of its recurring series (its calendar entry's identity); None:
    # unknown to whoever made it, look it up
    series: int | None = None


@dataclass(frozen=True)
class RungInfo:
    """One fired (or, in a simulation, due) rung, with what a notice needs to know."""

    rung_id: int
    deadline_id: int
    proposal_id: int
    key: str
    lead: str
    state: str
    deadline: str  # the deadline kind, e.g. consultation
    label: str  # its German label from the definition
    rung: str  # e.g. remind-7d
    kind: str  # reminder | escalation
    recipients: tuple[str, ...]  # roles
    due_at: datetime
    fire_at: datetime
    late: bool
    skipped: str | None = None  # why no notice was made (a catch-up; workflow.deadlines.sweep)

    @property
    def idempotency_key(self) -> str:
        """The key of the one outbox notice this rung may produce."""
        return f"deadline-rung:{self.rung_id}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (times as ISO text)."""
        data = asdict(self)
        data["recipients"] = list(self.recipients)
        data["idempotency_key"] = self.idempotency_key
        for name in ("due_at", "fire_at"):
            data[name] = data[name].isoformat()
        return data


@dataclass(frozen=True)
class MovedDeadline:
    """What a deadline move did (what its notice tells): ``workflow.deadlines.move``."""

    deadline_id: int
    proposal_id: int
    key: str
    kind: str
    label: str
    old_due_at: datetime
    due_at: datetime
    sequence: int
    reason: str
    rungs: tuple[tuple[str, datetime], ...]  # pending rungs after the move, by time


@dataclass
class Batch:
    """The changes of one command, travelling through the effects in its transaction.

    Effects pass results on here, not through globals: the deadline effect records in
    ``opened`` the open deadlines of every proposal whose open deadlines it knows completely
    (soonest first), and the notifier, which runs after it, reads them instead of querying.
    A proposal missing from ``opened`` simply has to be looked up.
    """

    conn: Connection
    applied: Sequence[Applied]
    now: datetime
    opened: dict[int, list[OpenedDeadline]] = field(default_factory=dict)


class AppendEvent(Protocol):
    """How code outside the engine records an event that is no transition (a fired rung, a
    sent notice) on a proposal's chain: :meth:`workflow.engine.engine.Engine.append_event`.

    Runs in the caller's write transaction (``conn``) on the proposal ``row`` read in it;
    the state stays, the row version and the chain head advance.
    """

    def __call__(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        *,
        kind: str,
        trigger: str,
        actor: str,
        now: datetime,
        data: Mapping[str, Any] | None = None,
        comment: str | None = None,
    ) -> Applied: ...
