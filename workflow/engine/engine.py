"""The engine: one atomic write per command, following the hot path of DESIGN.md.

``advance`` loads the proposal, lets the shared machine of its definition version
decide (trigger valid in state, guards), asks the policy whether the actor may, and
then writes state + row version + hash-chained history + the effects of the new
state (deadlines, outbox notices) in one transaction. Nothing leaves the process
inside it: notices are rows that a worker delivers later.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflow.access.directory import Actor, Directory
from workflow.access.policy import refusal, refusal_de
from workflow.engine import history
from workflow.engine.changes import Applied, Batch, BulkResult, TransitionEffect, TriggerOption
from workflow.engine.definitions import Machines
from workflow.engine.edits import Edit, Edited, plan_edit
from workflow.engine.guard_context import DbGuardContext
from workflow.engine.migration import (
    MIGRATE_TRIGGER,
    MIGRATION_KIND,
    MigrationItem,
    MigrationPlan,
    MigrationResult,
    Moved,
    begin_plan,
    migration_data,
    plan_chunks,
    plan_migration,
)
from workflow.errors import (
    AlreadyAttached,
    ConcurrentUpdate,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
    UnknownProposal,
    WorkflowError,
)
from workflow.inputs import MAX_COMMENT, MAX_STATEMENT, check_money, check_text, column_length
from workflow.process.definition import Definition, TransitionDef
from workflow.process.fields import (
    described,
    missing_fields,
    missing_requirements,
    parse_fields,
)
from workflow.process.guards import REGISTRY, german_reason
from workflow.process.machine import ProcessMachine, check_guards
from workflow.process.vocabulary import FUNDING_SOURCES, STATEMENT_GROUPS, STATEMENT_POSITIONS
from workflow.progress import ProgressCallback
from workflow.store import documents as documents_store
from workflow.store import limits, repo
from workflow.store.db import Connection, Store
from workflow.store.documents import NewDocument

log = logging.getLogger("ruhrflow.engine")


@dataclass
class _Plan:
    row: Mapping[Any, Any]
    machine: ProcessMachine
    transition: TransitionDef | None
    trigger: str
    to_state: str
    fields: dict[str, Any]
    comment: str | None
    kind: str = "transition"
    data: dict[str, Any] = field(default_factory=dict)
    # a migration moves the proposal to another definition version (``machine`` is its)
    definition_id: int | None = None


class _RolledBack(Exception):
    """Ends a dry run's transaction (rolled back) and carries what it would have done."""

    def __init__(self, result: BulkResult) -> None:
        super().__init__("dry run")
        self.result = result


class Engine:
    """Advances proposals and records what happens to them; the one writer of history."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        *,
        audit_key: bytes | None = None,
        effects: Sequence[TransitionEffect] = (),
    ) -> None:
        self.store = store
        self.directory = directory
        self.audit_key = audit_key
        self.effects = list(effects)
        self.machines = Machines()
        self.refs = history.ActorRefs()

    # --- identity ------------------------------------------------------------------------

    def actor(self, actor_id: str) -> Actor:
        """The directory entry of an actor (UnknownActor when missing)."""
        return self.directory.actor(actor_id)

    def run_effects(self, batch: Batch) -> None:
        """Run the transition effects on ``batch``, in their declared order, in its transaction."""
        for effect in self.effects:
            effect(batch)

    # --- transitions ---------------------------------------------------------------------

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
            trigger,
            keys=[key],
            where_state=None,
            actor_id=actor,
            now=now,
            comment=comment,
            raw_fields=fields or {},
            partial=False,
            expected_version=expected_version,
        )
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
            where_state=where_state,
            actor_id=actor,
            now=now,
            comment=comment,
            raw_fields=fields or {},
            partial=partial,
            expected_version=None,
            progress=progress,
            dry_run=dry_run,
        )

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
    ) -> BulkResult:
        if comment is not None:
            check_text(comment, "comment", multiline=True, limit=MAX_COMMENT)
        actor = self.actor(actor_id)
        try:
            return self._advance_in_transaction(
                trigger, keys, where_state, actor, now, comment, raw_fields, partial,
                expected_version, progress, dry_run,
            )  # fmt: skip
        except _RolledBack as preview:
            return preview.result
        except (ConcurrentUpdate, UnknownProposal) as exc:  # the per-row refusals are logged
            self._log_refusal(actor_id, trigger, getattr(exc, "key", None), exc)
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
    ) -> BulkResult:
        actor_id = actor.id
        refused: list[tuple[str, WorkflowError]] = []
        single = keys is not None and len(keys) == 1
        with _gc_paused(not single), self.store.write() as conn:
            rows = repo.load_proposals(conn, keys=keys, state=where_state, lock=not single)
            if keys is not None and len(rows) < len(keys):
                found = {r["key"] for r in rows}
                for key in keys:
                    if key not in found:
                        if not partial:
                            raise UnknownProposal(key)
                        refused.append((key, UnknownProposal(key)))
            plans: list[_Plan] = []
            for done, row in enumerate(rows, start=1):
                if progress is not None:
                    progress(done - 1, len(rows))
                try:
                    if expected_version is not None and row["row_version"] != expected_version:
                        raise self._concurrent(conn, row["key"])
                    plans.append(self._plan(conn, row, trigger, actor, now, comment, raw_fields))
                except (TransitionNotAllowed, PermissionDenied) as exc:
                    self._log_refusal(actor_id, trigger, row["key"], exc)
                    if not partial:
                        raise
                    refused.append((row["key"], exc))
            ref = self.refs.ref(conn, actor_id, now)
            applied = self._write(conn, plans, actor_id, ref, now)
            self.run_effects(Batch(conn, applied, now))
            if dry_run:  # leaves the transaction by an exception: nothing is committed
                if progress is not None:
                    progress(len(rows), len(rows))
                raise _RolledBack(BulkResult(applied, refused))
        if progress is not None:
            progress(len(rows), len(rows))
        return BulkResult(applied, refused)

    def _plan(
        self,
        conn: Connection,
        row: Mapping[Any, Any],
        trigger: str,
        actor: Actor,
        now: datetime,
        comment: str | None,
        raw_fields: Mapping[Any, Any],
    ) -> _Plan:
        machine = self.machines.get(conn, row["definition_id"])
        definition = machine.definition
        key, state = row["key"], row["state"]
        transition = definition.transition(trigger, state)
        if transition is None:
            possible = [t.trigger for t in definition.triggers_from(state)]
            raise TransitionNotAllowed(
                key, trigger, state, possible=possible, last_change=self._last_change(conn, key)
            )
        reason = refusal(actor, transition.roles, row)
        if reason is not None:
            raise PermissionDenied(actor.id, trigger, key, reason)
        fields = parse_fields(definition, raw_fields)
        undeclared = [name for name in fields if name not in transition.requires]
        if undeclared:
            takes = ", ".join(n for n in transition.requires if n != "comment") or "no field"
            raise InvalidInput(
                f"{trigger} does not take the field {undeclared[0]} (it takes: {takes})"
            )
        missing = missing_requirements(transition, fields, comment)
        if missing:
            raise TransitionNotAllowed(
                key, trigger, state, reasons=[f"missing {m}" for m in missing]
            )
        ctx = DbGuardContext(conn, row, fields, now, self.directory)
        machine.fire(key, state, trigger, ctx)
        return _Plan(row, machine, transition, trigger, transition.dest, fields, comment)

    def _write(
        self,
        conn: Connection,
        plans: Sequence[_Plan],
        actor_id: str,
        ref: str,
        now: datetime,
    ) -> list[Applied]:
        updates: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        applied: list[Applied] = []
        for plan in plans:
            row = plan.row
            seq = row["history_seq"] + 1
            entry = history.new_entry(
                chain=row["key"],
                seq=seq,
                kind=plan.kind,
                trigger=plan.trigger,
                from_state=row["state"],
                to_state=plan.to_state,
                actor_ref=ref,
                comment=plan.comment,
                data={"fields": plan.fields, **plan.data} if plan.fields else plan.data,
                at=now,
                prev_hash=row["history_head"],
                audit_key=self.audit_key,
            )
            entries.append(entry)
            data = {**row["data"], **plan.fields}
            entered = now if plan.to_state != row["state"] else row["state_entered_at"]
            new_values = {
                "state": plan.to_state,
                "definition_id": plan.definition_id or row["definition_id"],
                "row_version": row["row_version"] + 1,
                "state_entered_at": entered,
                "updated_at": now,
                "data": data,
                "history_seq": seq,
                "history_head": entry["hash"],
            }
            updates.append({"p_id": row["id"], "p_v": row["row_version"], **new_values})
            applied.append(
                Applied(
                    key=row["key"],
                    proposal_id=row["id"],
                    trigger=plan.trigger,
                    from_state=row["state"],
                    to_state=plan.to_state,
                    actor=actor_id,
                    comment=plan.comment,
                    fields=plan.fields,
                    seq=seq,
                    at=now,
                    definition=plan.machine.definition,
                    transition=plan.transition,
                    proposal={**row, **new_values},
                    kind=plan.kind,
                )
            )
        matched = repo.update_proposals(conn, updates)
        if matched != len(updates):
            # Somebody committed a change between our read and our write.
            for plan in plans:
                current = repo.load_proposal(conn, plan.row["key"])
                if current is None or current["row_version"] != plan.row["row_version"]:
                    raise self._concurrent(conn, plan.row["key"])
            raise ConcurrentUpdate(plans[0].row["key"], None, None, plans[0].row["state"])
        history.append(conn, entries)
        return applied

    def _concurrent(self, conn: Connection, key: str) -> ConcurrentUpdate:
        current = repo.load_proposal(conn, key)
        last = repo.last_entry(conn, key)
        return ConcurrentUpdate(
            key,
            last["actor_id"] if last else None,
            last["at"] if last else None,
            current["state"] if current else "?",
        )

    def _last_change(self, conn: Connection, key: str) -> str | None:
        last = repo.last_entry(conn, key)
        if last is None:
            return None
        when = last["at"].isoformat(timespec="seconds")
        return f"last change: {last['trigger']} by {last['actor_id']} at {when}"

    @staticmethod
    def _log_refusal(actor: str, trigger: str, key: str | None, exc: WorkflowError) -> None:
        """Every refusal leaves one log line (logger ``ruhrflow.engine``), forgery-proof:
        control characters in user-given values are escaped, so no fake line is injected."""
        reason = str(exc)
        log.warning(
            "refused: actor=%s trigger=%s proposal=%s reason=%s",
            _one_line(actor),
            _one_line(trigger),
            _one_line(key or "-"),
            _one_line(reason),
            extra={"actor": actor, "trigger": trigger, "proposal": key, "reason": reason},
        )

    # --- changing the process while proposals run ---------------------------------------

    def plan_migration(self, **options: Any) -> MigrationPlan:
        """The dry run of a migration (see :func:`workflow.engine.migration.plan_migration`)."""
        with self.store.read() as conn:
            return plan_migration(conn, self.machines, **options)

    @contextmanager
    def migration_plan_chunks(
        self,
        *,
        now: datetime,
        keys: Sequence[str] | None = None,
        where_state: str | None = None,
        deadline_setting: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[tuple[MigrationPlan, Iterator[list[MigrationItem]]]]:
        """The dry run a chunk of proposals at a time, in one read transaction: the plan's
        head (checked as a whole) and its items, for output that need not hold them all."""
        with self.store.read() as conn:
            plan = begin_plan(conn, self.machines, keys=keys, where_state=where_state, **options)
            yield plan, plan_chunks(
                conn, self.machines, plan, keys=keys, where_state=where_state,
                deadline_setting=deadline_setting or {}, now=now,
            )  # fmt: skip

    def migrate(
        self,
        *,
        actor: str,
        now: datetime,
        partial: bool = False,
        comment: str | None = None,
        keys: Sequence[str] | None = None,
        where_state: str | None = None,
        deadline_setting: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> tuple[MigrationPlan, MigrationResult]:
        """Apply a migration plan in one transaction: all or nothing, unless ``partial``.

        Coordinators only. Each moved proposal gets a ``migration`` history entry (from/to
        version, the definitions' hashes, from/to state, the actor) and its definition
        version and state change in the same UPDATE; the effects then close its deadlines
        and re-derive them from the target version's rules, in the same transaction. The
        proposals are planned, written and handed to the effects a chunk at a time, so the
        memory a migration needs does not grow with the number of proposals it moves.
        """
        who = self.actor(actor)
        reason = refusal(who, ("coordinator",), None)
        if reason is not None:
            denied = PermissionDenied(actor, "migrate proposals", None, reason)
            self._log_refusal(actor, MIGRATE_TRIGGER, None, denied)
            raise denied
        result = MigrationResult()
        with _gc_paused(True), self.store.write() as conn:
            plan = begin_plan(conn, self.machines, keys=keys, where_state=where_state, **options)
            machine = self.machines.get(conn, plan.to_definition_id)
            ref = self.refs.ref(conn, actor, now)
            for items in plan_chunks(
                conn, self.machines, plan, keys=keys, where_state=where_state,
                deadline_setting=deadline_setting or {}, now=now, lock=True,
            ):  # fmt: skip
                plans: list[_Plan] = []
                for item in items:
                    result.planned += 1
                    if not item.can_move:
                        stays = TransitionNotAllowed(
                            item.key, MIGRATE_TRIGGER, item.from_state, reasons=item.reasons
                        )
                        self._log_refusal(actor, MIGRATE_TRIGGER, item.key, stays)
                        if not partial:
                            raise stays
                        result.refused.append((item.key, stays))
                        continue
                    plans.append(
                        _Plan(
                            item.row,
                            machine,
                            None,
                            MIGRATE_TRIGGER,
                            item.to_state,
                            dict(plan.fields),
                            comment,
                            kind=MIGRATION_KIND,
                            data=migration_data(plan, item),
                            definition_id=plan.to_definition_id,
                        )
                    )
                applied = self._write(conn, plans, actor, ref, now)
                self.run_effects(Batch(conn, applied, now))
                result.moved += [Moved(a.key, a.from_state, a.to_state, a.seq) for a in applied]
        return plan, result

    # --- what can happen next ------------------------------------------------------------

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
        with self.store.read() as conn:
            row = repo.load_proposal(conn, key)
            if row is None:
                raise UnknownProposal(key)
            definition = self.machines.get(conn, row["definition_id"]).definition
            given = parse_fields(definition, fields or {})
            ctx = DbGuardContext(conn, row, given, now, self.directory)
            options = []
            for t in definition.triggers_from(row["state"]):
                blocked: list[str] = []
                german: list[str] = []  # the same reasons, for the web
                if who is not None:
                    reason = refusal(who, t.roles, row)
                    if reason:
                        blocked.append(f"role: {reason}")
                        german.append(refusal_de(who, t.roles, row))
                for name in missing_fields(t, given, comment):
                    blocked.append(f"missing {described(name)}")
                    german.append(f"Es fehlt: {_field_label_de(definition, name)}.")
                for g, why in check_guards(t, ctx):
                    blocked.append(f"guard {g}: {why} ({REGISTRY[g].description})")
                    german.append(
                        f"{german_reason(why)} (Voraussetzung: {definition.guard_text(g)}.)"
                    )
                options.append(
                    TriggerOption(
                        t.trigger,
                        t.label,
                        t.dest,
                        not blocked,
                        blocked,
                        t.roles,
                        t.requires,
                        german,
                    )
                )
            return options

    # --- events that are history but no transition ---------------------------------------

    def record_statement(
        self,
        key: str,
        *,
        party: str,
        group: str,
        position: str,
        text: str,
        actor: str,
        now: datetime,
    ) -> Applied:
        """Record a consultation statement (a history entry; the state stays)."""
        if group not in STATEMENT_GROUPS:
            raise InvalidInput(f"group must be one of {', '.join(STATEMENT_GROUPS)}")
        if position not in STATEMENT_POSITIONS:
            raise InvalidInput(f"position must be one of {', '.join(STATEMENT_POSITIONS)}")
        if not party.strip():
            raise InvalidInput("party must not be empty")
        check_text(party.strip(), "party", limit=column_length(limits.STATEMENT_PARTY))
        check_text(text, "statement text", multiline=True, limit=MAX_STATEMENT)

        def check(definition: Definition, row: Mapping[Any, Any]) -> None:
            if row["state"] not in definition.statement_states:
                allowed = ", ".join(definition.statement_states)
                raise TransitionNotAllowed(
                    key,
                    "record_statement",
                    row["state"],
                    reasons=[f"statements are recorded in the states {allowed}"],
                )

        def write(conn: Connection, row: Mapping[Any, Any]) -> None:
            repo.insert_statement(
                conn,
                proposal_id=row["id"],
                party=party.strip(),
                party_group=group,
                position=position,
                text=text,
                received_at=now,
            )

        data = {"party": party.strip(), "group": group, "position": position, "text": text}
        return self._record(key, "statement", "record_statement", actor, now, data, check, write)

    def add_funding(
        self,
        key: str,
        *,
        source: str,
        amount: Decimal,
        year: int,
        secured: bool,
        actor: str,
        now: datetime,
    ) -> Applied:
        """Record a funding line (planned or secured); a history entry, the state stays."""
        if source not in FUNDING_SOURCES:
            raise InvalidInput(f"source must be one of {', '.join(FUNDING_SOURCES)}")
        if not amount.is_finite() or amount <= 0:
            raise InvalidInput("amount must be a positive number of euros")
        check_money(amount, limits.FUNDING_AMOUNT, "amount")
        if not 2000 <= year <= 2100:
            raise InvalidInput(f"year {year} is outside 2000–2100")
        status = "secured" if secured else "planned"

        def check(definition: Definition, row: Mapping[Any, Any]) -> None:
            if definition.is_final(row["state"]):
                raise TransitionNotAllowed(
                    key, "add_funding", row["state"], reasons=["the proposal is closed"]
                )

        def write(conn: Connection, row: Mapping[Any, Any]) -> None:
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
        return self._record(key, "funding", "add_funding", actor, now, data, check, write)

    def append_event(
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
    ) -> Applied:
        """Append a history entry that is no transition (reminder fired, notice sent, …).

        Runs inside the caller's write transaction; the state stays, the row version and
        the chain head advance (a concurrent change raises ConcurrentUpdate). ``actor`` is
        a directory id (the scheduler acts as ``ruhrflow``).
        """
        ref = self.refs.ref(conn, actor, now)
        machine = self.machines.get(conn, row["definition_id"])
        plan = _Plan(
            row, machine, None, trigger, row["state"], {}, comment, kind=kind, data=dict(data or {})
        )
        (applied,) = self._write(conn, [plan], actor, ref, now)
        return applied

    def attach_document(
        self,
        key: str,
        document: NewDocument,
        *,
        actor: str,
        now: datetime,
        comment: str | None = None,
    ) -> Applied:
        """Attach a checked document (:mod:`workflow.documents.attach`) to ``key``: its row
        and a ``document`` history entry whose data holds its SHA-256, in one transaction.

        Refused for a file the proposal has already, and for a statement or transition entry
        that is not the proposal's. Who may: ``permissions.attach_document``.
        """
        if comment is not None:
            check_text(comment, "comment", multiline=True, limit=MAX_COMMENT)

        def check(definition: Definition, row: Mapping[Any, Any]) -> None:
            pass  # any state: a progress report comes after the decision, a Vorlage before

        def write(conn: Connection, row: Mapping[Any, Any]) -> None:
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

        return self._record(key, "document", "attach_document", actor, now,
                            {"document": document.entry()}, check, write, comment)  # fmt: skip

    def edit_proposal(
        self,
        key: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        now: datetime,
        comment: str | None = None,
    ) -> Edited:
        """Correct descriptive fields of ``key`` (:mod:`workflow.engine.edits`): the new
        values and an ``edit`` history entry with each field's old and new value, in one
        transaction. Who may: ``permissions.edit`` (default: coordinator)."""
        if comment is not None:
            check_text(comment, "comment", multiline=True, limit=MAX_COMMENT)
        planned: list[Edit] = []

        def check(definition: Definition, row: Mapping[Any, Any]) -> None:
            planned.append(plan_edit(row, changes, self.directory, definition))

        def write(conn: Connection, row: Mapping[Any, Any]) -> None:
            repo.update_proposal_fields(conn, int(row["id"]), planned[0].values)
            data["changes"] = planned[0].changes

        data: dict[str, Any] = {}
        applied = self._record(key, "edit", "edit", actor, now, data, check, write, comment)
        return Edited(applied, planned[0].changes)

    def _record(
        self,
        key: str,
        kind: str,
        action: str,
        actor_id: str,
        now: datetime,
        data: dict[str, Any],
        check: Any,
        write: Any,
        comment: str | None = None,
    ) -> Applied:
        actor = self.actor(actor_id)
        try:
            with self.store.write() as conn:
                row = repo.load_proposal(conn, key)
                if row is None:
                    raise UnknownProposal(key)
                machine = self.machines.get(conn, row["definition_id"])
                reason = refusal(actor, machine.definition.permitted(action), row)
                if reason is not None:
                    raise PermissionDenied(actor_id, action.replace("_", " "), key, reason)
                check(machine.definition, row)
                ref = self.refs.ref(conn, actor_id, now)
                write(conn, row)
                plan = _Plan(
                    row, machine, None, action, row["state"], {}, comment, kind=kind, data=data
                )
                (applied,) = self._write(conn, [plan], actor_id, ref, now)
        except (PermissionDenied, TransitionNotAllowed, ConcurrentUpdate, UnknownProposal) as exc:
            self._log_refusal(actor_id, action, key, exc)
            raise
        return applied


def _field_label_de(definition: Definition, name: str) -> str:
    """A required field by its German label (the comment is no field)."""
    if name == "comment":
        return "ein Kommentar"
    found = definition.fields.get(name)
    return found.label if found is not None else name


@contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    """No cyclic garbage collection while a bulk transition runs (``pause``).

    A bulk advance holds every row, plan, history entry and notice of its batch until it
    commits; the collector scanned them again and again — a fifth of a 10,000-proposal
    advance (bench/). Reference counting still frees what is dropped; whatever cycles arise
    (an exception's traceback) wait until collection resumes right afterwards, also after a
    failure. Process-wide, for the duration of one transaction.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _one_line(text: str) -> str:
    """``text`` with every non-printable character (CR, LF, U+2028, …) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
