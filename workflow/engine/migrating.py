"""Migrations applied: running proposals moved to another definition version.

:mod:`workflow.engine.migration` plans (a dry run, a chunk at a time); this applies the plan
in the unit of work — permission (``permissions.migrate``), one ``migration`` history entry
per moved proposal, its deadlines re-derived by the effects — in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.engine.changes import Batch
from workflow.engine.unit import UnitOfWork
from workflow.engine.writing import Plan, gc_paused, log_refusal
from workflow.errors import PermissionDenied, TransitionNotAllowed

# The planner loads with the first migration: a transition (every cold `ruhrflow advance`)
# never needs it (issue 29).
if TYPE_CHECKING:
    from workflow.engine.migration import MigrationItem, MigrationPlan, MigrationResult


class Migrations(UnitOfWork):
    """Moves running proposals to another definition version (the engine's migrations)."""

    def plan_migration(self, **options: Any) -> MigrationPlan:
        """The dry run of a migration (see :func:`workflow.engine.migration.plan_migration`)."""
        from workflow.engine.migration import plan_migration

        with self._store.read() as conn:
            return plan_migration(conn, self._machines, **options)

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
        from workflow.engine.migration import begin_plan, plan_chunks

        with self._store.read() as conn:
            plan = begin_plan(conn, self._machines, keys=keys, where_state=where_state, **options)
            yield plan, plan_chunks(
                conn, self._machines, plan, keys=keys, where_state=where_state,
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

        Who may: ``permissions.migrate`` of the newest definition (default: coordinator).
        Each moved proposal gets a ``migration`` history entry (from/to version, the
        definitions' hashes, from/to state, the actor) and its definition version and state
        change in the same UPDATE; the effects then close its deadlines and re-derive them
        from the target version's rules, in the same transaction. The proposals are planned,
        written and handed to the effects a chunk at a time, so the memory a migration needs
        does not grow with the number of proposals it moves.
        """
        from workflow.engine.migration import (
            MIGRATE_TRIGGER,
            MigrationResult,
            Moved,
            begin_plan,
            plan_chunks,
        )

        who = self.actor(actor)
        result = MigrationResult()
        try:
            with gc_paused(True), self._store.write() as conn:
                _, newest = self._newest_definition(conn)
                self._authorise(who, "migrate", newest, None, described="migrate proposals")
                plan = begin_plan(
                    conn, self._machines, keys=keys, where_state=where_state, **options
                )
                ref = self._refs.ref(conn, actor, now)
                for items in plan_chunks(
                    conn, self._machines, plan, keys=keys, where_state=where_state,
                    deadline_setting=deadline_setting or {}, now=now, lock=True,
                ):  # fmt: skip
                    plans = self._migration_plans(plan, items, actor, comment, partial, result)
                    applied = self._write(conn, plans, actor, ref, now)
                    self._run_effects(Batch(conn, applied, now))
                    result.moved += [Moved(a.key, a.from_state, a.to_state, a.seq)
                                     for a in applied]  # fmt: skip
        except PermissionDenied as exc:
            log_refusal(actor, MIGRATE_TRIGGER, None, exc)
            raise
        return plan, result

    def _migration_plans(
        self,
        plan: MigrationPlan,
        items: Sequence[MigrationItem],
        actor: str,
        comment: str | None,
        partial: bool,
        result: MigrationResult,
    ) -> list[Plan]:
        """The writes of one chunk of a migration; a proposal that cannot move is refused."""
        from workflow.engine.migration import MIGRATE_TRIGGER, MIGRATION_KIND, migration_data

        plans: list[Plan] = []
        for item in items:
            result.planned += 1
            if not item.can_move:
                stays = TransitionNotAllowed(
                    item.key, MIGRATE_TRIGGER, item.from_state, reasons=item.reasons
                )
                log_refusal(actor, MIGRATE_TRIGGER, item.key, stays)
                if not partial:
                    raise stays
                result.refused.append((item.key, stays))
                continue
            plans.append(
                Plan(item.row, plan.target, None, MIGRATE_TRIGGER, item.to_state,
                     dict(plan.fields), comment, kind=MIGRATION_KIND,
                     data=migration_data(plan, item), definition_id=plan.to_definition_id)
            )  # fmt: skip
        return plans
