"""Wiring: from Settings to a ready Engine with its effects. Built once, at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow.access.directory import Directory, load_directory
from workflow.app.settings import Settings
from workflow.deadlines.effect import DeadlineEffect
from workflow.engine.changes import TransitionEffect
from workflow.engine.definitions import Machines
from workflow.engine.engine import Engine
from workflow.notices.events import Notifier
from workflow.store.db import Store


@dataclass
class Runtime:
    """Everything a command needs: settings, store, directory and engine, and the registry of
    definition machines the engine and the sweeps share."""

    settings: Settings
    store: Store
    directory: Directory
    engine: Engine
    machines: Machines = field(default_factory=Machines)

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()


def transition_effects(settings: Settings, directory: Directory) -> list[TransitionEffect]:
    """The work done with every transition, in the same transaction, in this order.

    The one place that orders the effects: the deadline effect first, since it leaves on the
    :class:`~workflow.engine.changes.Batch` the deadlines it opened, which the notices of a
    status change name; the notifier reads them there (and queries what is not there).
    """
    return [
        DeadlineEffect(settings.section("process")),
        Notifier.from_settings(settings, directory),
    ]


def open_runtime(settings: Settings) -> Runtime:
    """Open the store and build the engine for ``settings``."""
    store = Store.open(settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds)
    directory = load_directory(settings.directory_path)
    machines = Machines()
    engine = Engine(
        store,
        directory,
        audit_key=settings.audit_key,
        effects=transition_effects(settings, directory),
        machines=machines,
    )
    return Runtime(settings, store, directory, engine, machines)
