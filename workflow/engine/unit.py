"""The engine's one unit of work, and the collaborators it owns.

Every change passes it: load the proposal (or, for what belongs to no proposal, the newest
definition), check the actor's permission from the definition (a transition's roles, or
``permissions.<action>`` with the defaults of
:data:`workflow.process.formats.DEFAULT_PERMISSIONS`), write, append the hash-chained history,
run the effects of the new state (deadlines, outbox notices) — in one transaction — and log
what it refuses (:func:`workflow.engine.writing.log_refusal`). :meth:`UnitOfWork.execute`
runs a :class:`~workflow.engine.commands.Command` that way; the transitions
(:mod:`~workflow.engine.advancing`), migrations (:mod:`~workflow.engine.migrating`) and
creations (:mod:`~workflow.engine.engine`) use the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow.access.directory import Actor, Directory
from workflow.access.policy import refusal
from workflow.engine import history
from workflow.engine.changes import Applied, Batch
from workflow.engine.commands import Command
from workflow.engine.definitions import Machines
from workflow.engine.effects import Effect
from workflow.engine.writing import Plan, concurrent_update, log_refusal, write_plans
from workflow.errors import (
    ConcurrentUpdate,
    PermissionDenied,
    StoreUnavailable,
    TransitionNotAllowed,
    UnknownProposal,
)
from workflow.process.definition import Definition
from workflow.store import repo
from workflow.store.db import Connection, Store

# What the unit of work refuses for a reason the refusal log records (bad input is no refusal).
REFUSALS = (PermissionDenied, TransitionNotAllowed, ConcurrentUpdate, UnknownProposal)


class UnitOfWork:
    """The engine's collaborators — the store it writes, the directory of actors, the audit
    key of the history hashes, the transition effects, the registry of definition machines,
    the cache of actor refs — and the steps every command takes with them."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        *,
        audit_key: bytes | None = None,
        effects: Sequence[Effect] = (),
        machines: Machines | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._audit_key = audit_key
        self._effects = list(effects)
        self._machines = machines if machines is not None else Machines()
        self._refs = history.ActorRefs()

    # Read-only, for the tests not yet moved to Runtime.store, Runtime.machines and
    # Settings.audit_key (~35 modules): to go once they have (#28.2); no production module
    # and no bench scenario reads them.
    @property
    def store(self) -> Store:
        """The store this engine writes (read it through ``Runtime.store``)."""
        return self._store

    @property
    def machines(self) -> Machines:
        """The registry of definition machines (``Runtime.machines`` is the same)."""
        return self._machines

    @property
    def audit_key(self) -> bytes | None:
        """The key of the history hashes (``Settings.audit_key``)."""
        return self._audit_key

    # --- identity and the unit of work ---------------------------------------------------

    def actor(self, actor_id: str) -> Actor:
        """The directory entry of an actor (UnknownActor when missing)."""
        return self._directory.actor(actor_id)

    def _run_effects(self, batch: Batch) -> None:
        """Run the transition effects on ``batch``, in their declared order, in its transaction."""
        for effect in self._effects:
            effect.on_transition(batch)

    def _authorise(
        self,
        who: Actor,
        action: str,
        definition: Definition,
        row: Mapping[Any, Any] | None,
        *,
        described: str | None = None,
    ) -> None:
        """Raise PermissionDenied unless ``who`` holds a role ``definition`` permits
        ``action`` to (on proposal ``row``, or on none)."""
        reason = refusal(who, definition.permitted(action), row)
        if reason is not None:
            key = row["key"] if row is not None else None
            raise PermissionDenied(who.id, described or action.replace("_", " "), key, reason)

    def _newest_definition(self, conn: Connection) -> tuple[int, Definition]:
        """The newest registered definition: its permissions govern what is on no proposal
        (creating proposals, migrating them, erasing an actor)."""
        found = repo.newest_definition(conn)
        if found is None:
            raise StoreUnavailable("no process definition registered: run `ruhrflow init`")
        return int(found["id"]), self._machines.definition(conn, int(found["id"]))

    def execute(
        self, key: str, command: Command, *, actor: str, now: datetime,
        expected_version: int | None = None,
    ) -> Applied:  # fmt: skip
        """Run ``command`` on proposal ``key`` in the unit of work: load it, check the
        permission (``permissions.<action>``), the command's check and write, its history
        entry and its ``after`` step — one transaction; a refusal is logged.
        ``expected_version``: the proposal's version the caller showed; another one is a
        :class:`~workflow.errors.ConcurrentUpdate` (checked on the row the write locks)."""
        who = self.actor(actor)
        try:
            with self._store.write() as conn:
                row = repo.load_proposal(conn, key)
                if row is None:
                    raise UnknownProposal(key)
                if expected_version is not None and row["row_version"] != expected_version:
                    raise concurrent_update(conn, key)
                definition = self._machines.definition(conn, row["definition_id"])
                self._authorise(who, command.action, definition, row, described=command.described)
                command.check(definition, row)
                ref = self._refs.ref(conn, actor, now)
                command.write(conn, row, definition)
                plan = Plan(row, definition, None, command.entry_trigger, row["state"], {},
                            command.comment, kind=command.kind, data=command.data)  # fmt: skip
                (applied,) = self._write(conn, [plan], actor, ref, now)
                if command.after is not None:
                    command.after(conn, applied)
        except REFUSALS as exc:
            log_refusal(actor, command.action, key, exc)
            raise
        return applied

    def _write(
        self, conn: Connection, plans: Sequence[Plan], actor_id: str, ref: str, now: datetime
    ) -> list[Applied]:
        return write_plans(conn, plans, actor_id=actor_id, ref=ref, now=now,
                           audit_key=self._audit_key)  # fmt: skip

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
        a directory id (the scheduler acts as ``ruhrflow``). The caller is the system (the
        sweep, the delivery): no permission is checked.
        """
        ref = self._refs.ref(conn, actor, now)
        definition = self._machines.definition(conn, row["definition_id"])
        plan = Plan(row, definition, None, trigger, row["state"], {}, comment, kind=kind,
                    data=dict(data or {}))  # fmt: skip
        (applied,) = self._write(conn, [plan], actor, ref, now)
        return applied
