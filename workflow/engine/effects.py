"""The effect base: work done in the transaction of a change, on named hooks.

As dramatiq's ``Middleware``: an effect overrides the hooks it cares about, every other hook
does nothing. The wiring (:mod:`workflow.app.runtime`) builds the one list of effects, in
order; the engine calls ``on_transition`` after it wrote transitions, the deadline sweep
``on_rung`` after a fired rung's history entry, a deadline move ``on_deadline_moved`` after
its history entry — each in the same transaction, so a failing hook rolls the change back.

The effects today: :class:`~workflow.deadlines.effect.DeadlineEffect` (opens and closes
deadlines; first, since it leaves on the batch what it opened) and
:class:`~workflow.notices.events.Notifier` (writes the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from workflow.engine.changes import Applied, Batch, MovedDeadline, RungInfo
from workflow.store.db import Connection


class Effect:
    """Work done in the transaction of a change; every hook does nothing unless overridden."""

    def on_transition(self, batch: Batch) -> None:
        """Transitions (creations and migrations among them) were written: ``batch``."""

    def on_rung(self, conn: Connection, applied: Applied, info: RungInfo, now: datetime) -> None:
        """The sweep fired the rung ``info`` of ``applied.proposal``; its history entry is
        ``applied``."""

    def on_deadline_moved(
        self, conn: Connection, applied: Applied, moved: MovedDeadline, now: datetime
    ) -> None:
        """A deadline was moved (``moved``); the move's history entry is ``applied``."""


def rung_hook(
    effects: Sequence[Effect],
) -> Callable[[Connection, Applied, RungInfo, datetime], None]:
    """The sweep's hook for a fired rung: ``on_rung`` of each of ``effects``, in order."""

    def on_rung(conn: Connection, applied: Applied, info: RungInfo, now: datetime) -> None:
        for effect in effects:
            effect.on_rung(conn, applied, info, now)

    return on_rung
