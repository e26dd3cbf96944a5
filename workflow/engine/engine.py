"""The engine: one atomic write per command, following the hot path of DESIGN.md.

Every change passes its one unit of work (:mod:`workflow.engine.unit`): load, check the
permission from the definition, write, history, effects, refusal log — one transaction.
Nothing leaves the process inside it: notices are rows that a worker delivers later.

The engine is put together from its concepts: the unit of work and its collaborators
(:mod:`~workflow.engine.unit`), transitions (:mod:`~workflow.engine.advancing`), migrations
(:mod:`~workflow.engine.migrating`), and here the commands that are no transition — new
proposals (:mod:`~workflow.engine.intake`), statements, funding, documents and edits
(:mod:`~workflow.engine.commands`), and the erasure of an actor
(:mod:`~workflow.engine.erasure`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workflow.access.policy import refusal
from workflow.engine import commands, history
from workflow.engine.advancing import Transitions
from workflow.engine.changes import Applied, Batch
from workflow.engine.migrating import Migrations
from workflow.engine.writing import log_refusal
from workflow.errors import DuplicateProposal, ImportRejected, PermissionDenied
from workflow.store import repo

# What only the commands that are no transition need loads with them: a cold
# `ruhrflow advance` imports neither the intake of new proposals (csv, the input rules) nor
# edits, erasure or the document rows (issue 29).
if TYPE_CHECKING:
    from workflow.engine.edits import Edited
    from workflow.engine.erasure import Pseudonymised
    from workflow.engine.intake import ProposalInput
    from workflow.progress import ProgressCallback
    from workflow.store.documents import NewDocument


class Engine(Transitions, Migrations):
    """Advances proposals and records what happens to them; the one writer of history."""

    # --- new proposals -------------------------------------------------------------------

    def create_proposals(
        self, items: Sequence[ProposalInput], *, actor: str, now: datetime
    ) -> list[str]:
        """Create proposals in the initial state of the newest definition, each with its
        first history entry and the effects of entering that state; all or none.

        Who may: ``permissions.create`` (for each item's Themenforum and lead ministry). The
        actor's ref is resolved inside the same transaction (a refused import leaves no ref).
        """
        from workflow.engine import intake

        who = self.actor(actor)
        refused_key: str | None = None
        try:
            with self._store.write() as conn:
                definition_id, definition = self._newest_definition(conn)
                for item in items:
                    refused_key = item.key
                    pseudo_row = {"themenforum": item.themenforum, "lead": item.lead}
                    reason = refusal(who, definition.permitted("create"), pseudo_row)
                    if reason is not None:
                        raise PermissionDenied(actor, "create proposals", item.key, reason)
                refused_key = None
                ref = self._refs.ref(conn, actor, now)
                rows, entries = intake.new_proposals(
                    items, taken=repo.proposal_keys(conn), definition=definition,
                    definition_id=definition_id, ref=ref, now=now, audit_key=self._audit_key,
                )  # fmt: skip
                if rows:
                    repo.insert_proposals(conn, rows)
                    history.append(conn, entries)
                if rows and self._effects:
                    ids = repo.proposal_ids(conn, [r["key"] for r in rows])
                    applied = intake.created(rows, ids, actor=actor, now=now, definition=definition)
                    self._run_effects(Batch(conn, applied, now))
        except (PermissionDenied, DuplicateProposal) as exc:
            log_refusal(actor, "create", getattr(exc, "key", refused_key), exc)
            raise
        return [r["key"] for r in rows]

    def add_proposal(self, item: ProposalInput, *, actor: str, now: datetime) -> str:
        """Check one proposal (:func:`~workflow.engine.intake.validate`) and create it."""
        (key,) = self.create_proposals([self.check_proposal(item)], actor=actor, now=now)
        return key

    def check_proposal(self, item: ProposalInput) -> ProposalInput:
        """``item`` checked against the input rules and the directory's ministries,
        normalised; raises InvalidInput."""
        from workflow.engine import intake

        return intake.validate(item, self._directory)

    def import_proposals(
        self,
        rows: Iterable[tuple[int, Mapping[str, str]]],
        *,
        actor: str,
        now: datetime,
        skip_invalid: bool = False,
        progress: ProgressCallback | None = None,
    ) -> tuple[list[str], list[tuple[int, str]]]:
        """Check every row of an import (:func:`~workflow.engine.intake.read_csv`) first;
        create all of them (or, with ``skip_invalid``, the good ones) in one transaction.

        Returns the created keys and the (line, reason) of every bad row; ImportRejected
        when a row is bad and not ``skip_invalid``. ``progress(done, total)`` hears of every
        row checked, and once more when the rows are written.
        """
        from workflow.engine import intake

        with self._store.read() as conn:
            existing = repo.proposal_keys(conn)
        good, bad = intake.sort_rows(rows, self._directory, existing, progress)
        if bad and not skip_invalid:
            raise ImportRejected(bad)
        created = self.create_proposals(good, actor=actor, now=now) if good else []
        if progress is not None:
            progress(len(good) + len(bad), len(good) + len(bad))
        return created, bad

    # --- events that are history but no transition ---------------------------------------

    def record_statement(
        self, key: str, *, party: str, group: str, position: str, text: str, actor: str,
        now: datetime,
    ) -> Applied:  # fmt: skip
        """Record a consultation statement (a history entry; the state stays)."""
        command = commands.statement(
            key, party=party, group=group, position=position, text=text, now=now
        )
        return self.execute(key, command, actor=actor, now=now)

    def add_funding(
        self, key: str, *, source: str, amount: Decimal, year: int, secured: bool, actor: str,
        now: datetime,
    ) -> Applied:  # fmt: skip
        """Record a funding line (planned or secured); a history entry, the state stays."""
        command = commands.funding(
            key, source=source, amount=amount, year=year, secured=secured, now=now
        )
        return self.execute(key, command, actor=actor, now=now)

    def attach_document(
        self, key: str, document: NewDocument, *, actor: str, now: datetime,
        comment: str | None = None,
    ) -> Applied:  # fmt: skip
        """Attach a checked document (:mod:`workflow.documents.attach`) to ``key``: its row
        and a ``document`` history entry whose data holds its SHA-256, in one transaction.

        Refused for a file the proposal has already, and for a statement or transition entry
        that is not the proposal's. Who may: ``permissions.attach_document``.
        """
        command = commands.document(key, document, now=now, comment=comment)
        return self.execute(key, command, actor=actor, now=now)

    def edit_proposal(
        self, key: str, changes: Mapping[str, Any], *, actor: str, now: datetime,
        comment: str | None = None, expected_version: int | None = None,
    ) -> Edited:  # fmt: skip
        """Correct descriptive fields of ``key`` (:mod:`workflow.engine.edits`): the new
        values and an ``edit`` history entry with each field's old and new value, in one
        transaction. Who may: ``permissions.edit`` (default: coordinator). With
        ``expected_version`` (the version a form showed), a proposal changed since is a
        ``ConcurrentUpdate`` and nothing is written."""
        from workflow.engine.edits import Edited

        command = commands.edit(changes, self._directory, comment)
        applied = self.execute(key, command, actor=actor, now=now,
                               expected_version=expected_version)  # fmt: skip
        return Edited(applied, command.data["changes"])

    def pseudonymise(self, actor_id: str, *, by: str, now: datetime) -> Pseudonymised:
        """Replace ``actor_id`` behind all its refs by one pseudonym, recorded on @system
        (:mod:`workflow.engine.erasure`). Who may: ``permissions.pseudonymise`` of the newest
        definition (default: coordinator)."""
        from workflow.engine.erasure import erase

        who = self.actor(by)
        try:
            with self._store.write() as conn:
                _, definition = self._newest_definition(conn)
                self._authorise(who, "pseudonymise", definition, None,
                                described="pseudonymise actors")  # fmt: skip
                done = erase(conn, actor_id, by=by, now=now, audit_key=self._audit_key)
        except PermissionDenied as exc:
            log_refusal(by, "pseudonymise", None, exc)
            raise
        self._refs.forget(actor_id)  # a cached ref is now the pseudonym's
        return done
