"""Commands that are history but no transition: statements, funding, documents, edits.

A :class:`Command` says what one change of one proposal is — the action whose permission the
definition declares (:meth:`~workflow.process.definition.Definition.permitted`), the check
of the loaded proposal, the write, and the history entry it leaves. The engine runs every
command in its one unit of work (:meth:`workflow.engine.engine.Engine.execute`): load the
proposal, check the permission, check, write, append the history entry, log a refusal.
Layers above the engine (the deadline move) build their own commands the same way.

The builders here check the input first (before any transaction), as the CLI and the web
give it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflow.access.directory import Directory
from workflow.engine.changes import Applied
from workflow.errors import AlreadyAttached, InvalidInput, TransitionNotAllowed
from workflow.inputs import MAX_COMMENT, MAX_STATEMENT, check_money, check_text, column_length
from workflow.process.definition import Definition
from workflow.process.vocabulary import FUNDING_SOURCES, STATEMENT_GROUPS, STATEMENT_POSITIONS
from workflow.store import limits, repo
from workflow.store.db import Connection

if TYPE_CHECKING:
    from workflow.store.documents import NewDocument

Row = Mapping[Any, Any]


def _anywhere(definition: Definition, row: Row) -> None:
    """A command allowed in every state."""


@dataclass
class Command:
    """One change of one proposal that is no transition (the state stays).

    ``check(definition, row)`` refuses it for the loaded proposal (TransitionNotAllowed,
    InvalidInput); ``write(conn, row, definition)`` writes its own rows and may add to
    ``data``, the history entry's data; ``after(conn, applied)`` runs once the entry is
    written, in the same transaction.
    """

    action: str  # the permission (``permissions.<action>``) and the refusal log's trigger
    kind: str  # the history entry's kind
    write: Callable[[Connection, Row, Definition], None]
    data: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Definition, Row], None] = _anywhere
    comment: str | None = None
    trigger: str | None = None  # the history entry's trigger; the action when None
    denied_as: str | None = None  # how a refusal names it ("move a deadline")
    after: Callable[[Connection, Applied], None] | None = None
    result: Any = None  # what the write leaves for its caller (the moved deadline)

    @property
    def entry_trigger(self) -> str:
        """The trigger the history entry records."""
        return self.trigger or self.action

    @property
    def described(self) -> str:
        """The action in words, as PermissionDenied says it (``record statement``)."""
        return self.denied_as or self.action.replace("_", " ")


def check_comment(comment: str | None) -> None:
    """A comment is one multi-line text of at most MAX_COMMENT characters."""
    if comment is not None:
        check_text(comment, "comment", multiline=True, limit=MAX_COMMENT)


def statement(
    key: str, *, party: str, group: str, position: str, text: str, now: datetime
) -> Command:
    """Record a consultation statement in a state of ``statement_states``."""
    if group not in STATEMENT_GROUPS:
        raise InvalidInput(f"group must be one of {', '.join(STATEMENT_GROUPS)}")
    if position not in STATEMENT_POSITIONS:
        raise InvalidInput(f"position must be one of {', '.join(STATEMENT_POSITIONS)}")
    if not party.strip():
        raise InvalidInput("party must not be empty")
    party = party.strip()
    check_text(party, "party", limit=column_length(limits.STATEMENT_PARTY))
    check_text(text, "statement text", multiline=True, limit=MAX_STATEMENT)

    def check(definition: Definition, row: Row) -> None:
        if row["state"] not in definition.statement_states:
            allowed = ", ".join(definition.statement_states)
            raise TransitionNotAllowed(
                key,
                "record_statement",
                row["state"],
                reasons=[f"statements are recorded in the states {allowed}"],
            )

    def write(conn: Connection, row: Row, definition: Definition) -> None:
        repo.insert_statement(
            conn,
            proposal_id=row["id"],
            party=party,
            party_group=group,
            position=position,
            text=text,
            received_at=now,
        )

    data = {"party": party, "group": group, "position": position, "text": text}
    return Command("record_statement", "statement", write, data, check)


def funding(
    key: str, *, source: str, amount: Decimal, year: int, secured: bool, now: datetime
) -> Command:
    """Record a funding line (planned or secured) on a proposal that is not closed."""
    if source not in FUNDING_SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(FUNDING_SOURCES)}")
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput("amount must be a positive number of euros")
    check_money(amount, limits.FUNDING_AMOUNT, "amount")
    if not 2000 <= year <= 2100:
        raise InvalidInput(f"year {year} is outside 2000–2100")
    status = "secured" if secured else "planned"

    def check(definition: Definition, row: Row) -> None:
        if definition.is_final(row["state"]):
            raise TransitionNotAllowed(
                key, "add_funding", row["state"], reasons=["the proposal is closed"]
            )

    def write(conn: Connection, row: Row, definition: Definition) -> None:
        repo.insert_funding(
            conn,
            proposal_id=row["id"],
            source=source,
            amount=amount,
            year=year,
            status=status,
            recorded_at=now,
        )

    data = {"source": source, "amount": str(amount), "year": year, "status": status}
    return Command("add_funding", "funding", write, data, check)


def document(
    key: str, document: NewDocument, *, now: datetime, comment: str | None = None
) -> Command:
    """Attach a checked document in any state (a progress report comes after the decision,
    a Vorlage before); refused for a file the proposal has already."""
    # loaded by the commands that attach (not on a transition's path: the cold CLI start)
    from workflow.store import documents as documents_store

    check_comment(comment)

    def write(conn: Connection, row: Row, definition: Definition) -> None:
        if documents_store.find_document(conn, int(row["id"]), document.sha256):
            raise AlreadyAttached(
                f"{key}: this file (SHA-256 {document.sha256[:12]}…) is attached already;"
                " nothing was attached"
            )
        problem = documents_store.problem_of(conn, row, document)
        if problem is not None:
            raise InvalidInput(f"{key}: {problem}; nothing was attached")
        documents_store.insert_document(
            conn, {**document.row(), "proposal_id": row["id"],
                   "history_seq": row["history_seq"] + 1, "attached_at": now},
        )  # fmt: skip

    data = {"document": document.entry()}
    return Command("attach_document", "document", write, data, comment=comment)


def edit(changes: Mapping[str, Any], directory: Directory, comment: str | None) -> Command:
    """Correct descriptive fields (:mod:`workflow.engine.edits`); the history entry's
    ``changes`` hold each changed field's old and new value."""
    check_comment(comment)

    def write(conn: Connection, row: Row, definition: Definition) -> None:
        from workflow.engine.edits import plan_edit  # only an edit needs it (cold CLI start)

        planned = plan_edit(row, changes, directory, definition)
        repo.update_proposal_fields(conn, int(row["id"]), planned.values)
        command.data["changes"] = planned.changes

    command = Command("edit", "edit", write, comment=comment)
    return command
