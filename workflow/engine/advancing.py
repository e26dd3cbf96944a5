"""Transitions: firing a trigger on one proposal or many, and what can fire next.

The hot path of DESIGN.md: begin the write transaction, load the rows (locked for a batch),
plan each transition (:func:`workflow.engine.transition.plan_transition`: the machine and
the roles decide), write them with their history, run the effects, commit — all or nothing,
unless ``partial``. A dry run does all of it and rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow.access.directory import Actor
from workflow.access.policy import refusal
from workflow.engine.changes import Applied, Batch, BulkResult, TriggerOption
from workflow.engine.commands import check_comment
from workflow.engine.guard_context import DbGuardContext
from workflow.engine.options import Blocker, Previewed, blockers, refused, trigger_options
from workflow.engine.transition import plan_transition
from workflow.engine.unit import UnitOfWork
from workflow.engine.writing import Plan, concurrent_update, gc_paused, log_refusal
from workflow.errors import (
    ConcurrentUpdate,
    DateInFuture,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
    UnknownProposal,
    WorkflowError,
)
from workflow.process.definition import Definition
from workflow.process.fields import parse_fields
from workflow.process.machine import ProcessMachine
from workflow.progress import ProgressCallback
from workflow.store import repo
from workflow.store.db import Connection


class _RolledBack(Exception):
    """Ends a dry run's transaction (rolled back) and carries what it would have done."""

    def __init__(self, result: BulkResult) -> None:
        super().__init__("dry run")
        self.result = result


_Explained = tuple[dict[str, list[Blocker]], dict[str, Definition]]
"""What a preview collects: each refused proposal's blockers, each proposal's definition."""


class Transitions(UnitOfWork):
    """Advances proposals through their process (the engine's transitions)."""

    def advance(
        self,
        key: str,
        trigger: str,
        *,
        actor: str,
        now: datetime,
        comment: str | None = None,
        fields: Mapping[Any, Any] | None = None,
        expected_version: int | None = None,
    ) -> Applied:
        """Fire ``trigger`` on one proposal; all of it commits or none of it."""
        result = self._advance(
            trigger, keys=[key], where_state=None, actor_id=actor, now=now, comment=comment,
            raw_fields=fields or {}, partial=False, expected_version=expected_version,
        )  # fmt: skip
        return result.applied[0]

    def advance_many(
        self,
        trigger: str,
        *,
        keys: Sequence[str] | None = None,
        where_state: str | None = None,
        actor: str,
        now: datetime,
        comment: str | None = None,
        fields: Mapping[Any, Any] | None = None,
        partial: bool = False,
        progress: ProgressCallback | None = None,
        dry_run: bool = False,
    ) -> BulkResult:
        """Fire ``trigger`` on many proposals in one transaction, each with its own history.

        All or nothing, unless ``partial``: then what can be applied is, and the rest is
        returned with the reason. ``progress(done, total)`` hears of every proposal checked.
        ``dry_run`` does all of it — the same checks, writes and effects — and rolls the
        transaction back: a preview that cannot disagree with the real run at that moment.
        """
        if (keys is None) == (where_state is None):
            raise InvalidInput("name the proposals either by key or by --where state=S")
        return self._advance(
            trigger,
            keys=list(dict.fromkeys(keys)) if keys is not None else None,
            where_state=where_state, actor_id=actor, now=now, comment=comment,
            raw_fields=fields or {}, partial=partial, expected_version=None,
            progress=progress, dry_run=dry_run,
        )  # fmt: skip

    def preview_many(
        self,
        trigger: str,
        *,
        keys: Sequence[str],
        actor: str,
        now: datetime,
        comment: str | None = None,
        fields: Mapping[Any, Any] | None = None,
    ) -> list[Previewed]:
        """What ``advance_many(trigger, keys=keys, partial=True)`` would do, proposal by
        proposal in the order of ``keys``: whether the trigger applies and, if not, every
        reason it is blocked (not only the first refusal), as data.

        One dry run: the real bulk advance's code (the same plans, writes and effects) in one
        write transaction that is rolled back, so the preview cannot disagree with an advance
        at that moment. Refusals are not logged: nobody was refused."""
        explained: dict[str, list[Blocker]] = {}
        definitions: dict[str, Definition] = {}
        unique = list(dict.fromkeys(keys))
        if not unique:
            return []
        result = self._advance(
            trigger, keys=unique, where_state=None, actor_id=actor, now=now, comment=comment,
            raw_fields=fields or {}, partial=True, expected_version=None, dry_run=True,
            explain=(explained, definitions),
        )  # fmt: skip
        applied = {a.key for a in result.applied}
        for key, exc in result.refused:  # refusals no check names (an unknown proposal)
            explained.setdefault(key, [refused(exc, "Nicht möglich.")])
        return [
            Previewed(key, key in applied, explained.get(key, []), definitions.get(key))
            for key in unique
        ]

    def _advance(
        self,
        trigger: str,
        *,
        keys: list[str] | None,
        where_state: str | None,
        actor_id: str,
        now: datetime,
        comment: str | None,
        raw_fields: Mapping[Any, Any],
        partial: bool,
        expected_version: int | None,
        progress: ProgressCallback | None = None,
        dry_run: bool = False,
        explain: _Explained | None = None,
    ) -> BulkResult:
        check_comment(comment)
        actor = self.actor(actor_id)
        try:
            return self._advance_in_transaction(
                trigger, keys, where_state, actor, now, comment, raw_fields, partial,
                expected_version, progress, dry_run, explain,
            )  # fmt: skip
        except _RolledBack as preview:
            return preview.result
        except (ConcurrentUpdate, UnknownProposal) as exc:  # the per-row refusals are logged
            log_refusal(actor_id, trigger, getattr(exc, "key", None), exc)
            raise

    def _advance_in_transaction(
        self,
        trigger: str,
        keys: list[str] | None,
        where_state: str | None,
        actor: Actor,
        now: datetime,
        comment: str | None,
        raw_fields: Mapping[Any, Any],
        partial: bool,
        expected_version: int | None,
        progress: ProgressCallback | None = None,
        dry_run: bool = False,
        explain: _Explained | None = None,
    ) -> BulkResult:
        """The bulk advance. ``explain`` (a dry run's preview) collects every blocker of each
        refused proposal and each proposal's definition, and refuses a date in the future per
        proposal (with its other reasons) instead of for the batch; nothing is logged then."""
        actor_id = actor.id
        refused: list[tuple[str, WorkflowError]] = []
        single = keys is not None and len(keys) == 1
        with gc_paused(not single), self._store.write() as conn:
            rows = repo.load_proposals(conn, keys=keys, state=where_state, lock=not single)
            if keys is not None and len(rows) < len(keys):
                found = {r["key"] for r in rows}
                for key in keys:
                    if key not in found:
                        if not partial:
                            raise UnknownProposal(key)
                        refused.append((key, UnknownProposal(key)))
            plans: list[Plan] = []
            for done, row in enumerate(rows, start=1):
                if progress is not None:
                    progress(done - 1, len(rows))
                try:
                    if expected_version is not None and row["row_version"] != expected_version:
                        raise concurrent_update(conn, row["key"])
                    machine = self._machines.get(conn, row["definition_id"])
                    if explain is not None:
                        explain[1][row["key"]] = machine.definition
                    plan = plan_transition(
                        conn, machine, row, trigger, actor=actor, now=now, comment=comment,
                        raw_fields=raw_fields, directory=self._directory,
                    )  # fmt: skip
                    plans.append(plan)
                except (TransitionNotAllowed, PermissionDenied, DateInFuture) as exc:
                    if explain is not None:
                        explain[0][row["key"]] = self._explain(
                            conn, machine, row, trigger, actor, now, comment, raw_fields, exc
                        )
                        refused.append((row["key"], exc))
                        continue
                    if isinstance(exc, DateInFuture):  # the batch's input: none applies
                        raise
                    log_refusal(actor_id, trigger, row["key"], exc)
                    if not partial:
                        raise
                    refused.append((row["key"], exc))
            ref = self._refs.ref(conn, actor_id, now)
            applied = self._write(conn, plans, actor_id, ref, now)
            self._run_effects(Batch(conn, applied, now))
            if dry_run:  # leaves the transaction by an exception: nothing is committed
                if progress is not None:
                    progress(len(rows), len(rows))
                raise _RolledBack(BulkResult(applied, refused))
        if progress is not None:
            progress(len(rows), len(rows))
        return BulkResult(applied, refused)

    def _explain(
        self,
        conn: Connection,
        machine: ProcessMachine,
        row: Mapping[Any, Any],
        trigger: str,
        actor: Actor,
        now: datetime,
        comment: str | None,
        raw_fields: Mapping[Any, Any],
        exc: WorkflowError,
    ) -> list[Blocker]:
        """Every reason ``plan_transition`` refused ``row`` (it raised ``exc``, the first)."""
        definition = machine.definition
        transition = definition.transition(trigger, row["state"])
        if transition is None:
            return [Blocker("state", row["state"])]
        given = parse_fields(definition, raw_fields)
        ctx = DbGuardContext(conn, row, given, now, self._directory)
        found = blockers(definition, transition, row, actor, given, comment, ctx)
        return found or [refused(exc, "Nicht möglich.")]

    def triggers(
        self,
        key: str,
        *,
        actor: str | None,
        now: datetime,
        fields: Mapping[Any, Any] | None = None,
        comment: str | None = None,
    ) -> list[TriggerOption]:
        """Every trigger leaving the proposal's state: can it fire now, and if not, why not."""
        who = self.actor(actor) if actor else None
        with self._store.read() as conn:
            row = repo.load_proposal(conn, key)
            if row is None:
                raise UnknownProposal(key)
            definition = self._machines.definition(conn, row["definition_id"])
            given = parse_fields(definition, fields or {})
            ctx = DbGuardContext(conn, row, given, now, self._directory)
            return trigger_options(definition, row, who, given, comment, ctx)

    def permitted(self, key: str, action: str, *, actor: str) -> bool:
        """Whether ``actor`` may do ``action`` (``permissions.<action>`` of the proposal's
        definition version, e.g. ``edit``, ``add_funding``) on proposal ``key`` — what a page
        offers; the command itself checks again."""
        who = self.actor(actor)
        with self._store.read() as conn:
            row = repo.load_proposal(conn, key)
            if row is None:
                raise UnknownProposal(key)
            definition = self._machines.definition(conn, row["definition_id"])
        return refusal(who, definition.permitted(action), row) is None
