"""One error root for the engine; every subclass carries the context a user needs.

The CLI maps ``exit_code`` to the process exit status: 1 for a refusal by the
process (invalid trigger, failed guard, permission, concurrent update, unknown
proposal), 2 for bad input (usage, malformed files), 3 for an operational problem
(database unreachable or busy), 4 for a mail transport that failed
(``notifications.TransportError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


class WorkflowError(Exception):
    """Root of every error ruhrflow raises on purpose."""

    exit_code = 1


# --- bad input (exit 2) ------------------------------------------------------------------


class InvalidInput(WorkflowError):
    """A value given by the user is malformed (a date, an amount, a field)."""

    exit_code = 2


class AlreadyAttached(InvalidInput):
    """The proposal has this document (the same SHA-256) already."""


class DateInFuture(InvalidInput):
    """A date that must have passed (a decision's: ``not_future``) lies after the engine's
    day; ``german`` says so to the people who typed it."""

    def __init__(self, field: str, day: date, today: date, german: str) -> None:
        self.field, self.day, self.today, self.german = field, day, today, german
        super().__init__(f"field {field}: {day} lies in the future (today is {today})")


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition file, with its place."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}"


class InvalidDefinition(InvalidInput):
    """A process definition failed to load or validate; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid definition"
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class InvalidConfig(InvalidInput):
    """A configuration or directory file is malformed."""


class ImportRejected(InvalidInput):
    """A CSV import had bad rows; nothing was imported."""

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        self.problems = tuple(problems)
        row, reason = self.problems[0]
        more = f" (and {len(self.problems) - 1} more bad rows)" if len(self.problems) > 1 else ""
        super().__init__(f"row {row}: {reason}{more}; nothing was imported")


class UnknownActor(InvalidInput):
    """The acting identity is not in the directory."""

    def __init__(self, actor_id: str) -> None:
        self.actor_id = actor_id
        super().__init__(f"unknown actor {actor_id!r}: not in the directory")


class IdentityRequired(InvalidInput):
    """A command that changes data was run without an acting identity."""

    def __init__(self) -> None:
        super().__init__(
            "this command changes data: say who you are with --as ID or RUHRFLOW_ACTOR"
        )


class UnmappedDatabaseUser(InvalidInput):
    """The authenticated database user is no actor of the directory (PostgreSQL)."""

    def __init__(self, db_user: str, *, impersonation_allowed: bool = False) -> None:
        self.db_user = db_user
        hint = " (or, as impersonation is allowed here, say who acts: --as ID)"
        super().__init__(
            f"database user {db_user!r} is no actor of the directory: an administrator maps"
            f" it with `ruhrflow db logins add {db_user} ACTOR`, or connect as a mapped user"
            + (hint if impersonation_allowed else "")
        )


# --- refusals by the process (exit 1) ------------------------------------------------------


class UnknownProposal(WorkflowError):
    """No proposal with this key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"unknown proposal {key!r}")


class DuplicateProposal(WorkflowError):
    """A proposal with this key exists already."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"proposal {key!r} exists already")


class TransitionNotAllowed(WorkflowError):
    """A trigger cannot fire: unknown in this state, a guard failed, or a field is missing."""

    def __init__(
        self,
        key: str,
        trigger: str,
        state: str,
        *,
        possible: Sequence[str] = (),
        failed_guards: Sequence[str] = (),
        reasons: Sequence[str] = (),
        last_change: str | None = None,
    ) -> None:
        self.key = key
        self.trigger = trigger
        self.state = state
        self.possible = tuple(possible)
        self.failed_guards = tuple(failed_guards)
        self.reasons = tuple(reasons)
        self.last_change = last_change
        if self.reasons:
            why = "; ".join(self.reasons)
            text = f"{key}: {trigger!r} not allowed in state {state!r}: {why}"
        else:
            options = ", ".join(self.possible) if self.possible else "none (final state)"
            text = f"{key}: no trigger {trigger!r} in state {state!r}; possible: {options}"
        if last_change:
            text += f" ({last_change})"
        super().__init__(text)


class PermissionDenied(WorkflowError):
    """The actor may not do this on this proposal."""

    def __init__(self, actor: str, action: str, key: str | None, reason: str) -> None:
        self.actor = actor
        self.action = action
        self.key = key
        self.reason = reason
        on = f" on {key}" if key else ""
        super().__init__(f"{actor} may not {action}{on}: {reason}")


class ImpersonationRefused(WorkflowError):
    """``--as`` names somebody else than the authenticated database user (PostgreSQL)."""

    def __init__(self, db_user: str, requested: str) -> None:
        self.db_user = db_user
        self.requested = requested
        super().__init__(
            f"database user {db_user!r} may not act as {requested!r}: on PostgreSQL the actor"
            " is the authenticated database user; drop --as (and RUHRFLOW_ACTOR), or ask an"
            " administrator for `ruhrflow db logins add LOGIN ACTOR --may-impersonate`"
        )


class DirectoryMismatch(PermissionDenied):
    """The directory in use gives a login's actor another role or scope than the database."""

    def __init__(self, db_user: str, actor_id: str, found: str, recorded: str) -> None:
        super().__init__(
            db_user,
            f"act with this directory as {actor_id}",
            None,
            f"it makes {actor_id} {found}, the database (set by an administrator) says"
            f" {recorded}: on PostgreSQL use the administrator's directory",
        )


class ClockRefused(PermissionDenied):
    """``--now`` on a command that writes, by a login the database does not let set the clock."""

    def __init__(self, db_user: str) -> None:
        super().__init__(
            db_user,
            "set the engine's clock (--now)",
            None,
            "on PostgreSQL only an administrator or a login granted the clock"
            " (ruhrflow db logins add LOGIN ACTOR --may-set-clock) may; drop --now",
        )


class ConcurrentUpdate(WorkflowError):
    """Somebody else changed the proposal between our read and our write."""

    def __init__(self, key: str, actor: str | None, at: datetime | None, state: str) -> None:
        self.key = key
        self.actor = actor
        self.at = at
        self.state = state
        when = at.isoformat(timespec="seconds") if at else "an unknown time"
        super().__init__(
            f"{key} was changed by {actor or 'someone else'} at {when}, now in state {state!r};"
            " nothing was changed, look again and retry"
        )


class ReadOnlyDatabase(WorkflowError):
    """A command that changes data was run on a SQLite file this user may only read."""


class DefinitionConflict(WorkflowError):
    """A definition version is registered already with different content."""


class AuditBreak(WorkflowError):
    """``audit verify`` found the history altered: names the chain, the seq and what is wrong."""

    def __init__(self, chain: str, seq: int | None, problem: str) -> None:
        self.chain = chain
        self.seq = seq
        self.problem = problem
        where = f"{chain} seq {seq}" if seq is not None else chain
        super().__init__(f"audit trail broken at {where}: {problem}")


# --- operational problems (exit 3) ---------------------------------------------------------


class StoreUnavailable(WorkflowError):
    """The database cannot be reached, is busy past the bounded wait, or has no schema."""

    exit_code = 3
