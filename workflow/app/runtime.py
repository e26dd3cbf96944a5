"""Wiring: from Settings to a ready Engine with its effects. Built once, at the edge."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.access.directory import Directory, load_directory
from workflow.app.settings import Settings
from workflow.engine.engine import Engine, TransitionEffect
from workflow.store.db import Store


@dataclass
class Runtime:
    """Everything a command needs: settings, store, directory and engine."""

    settings: Settings
    store: Store
    directory: Directory
    engine: Engine

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()


def transition_effects(settings: Settings, directory: Directory) -> list[TransitionEffect]:
    """The work done with every transition, in the same transaction (deadlines, notices)."""
    from notifications.events import Notifier
    from workflow.deadlines.effect import DeadlineEffect

    # The notices come after the deadlines: a status change names the new state's deadlines.
    return [
        DeadlineEffect(settings.section("process")),
        Notifier.from_settings(settings, directory),
    ]


def open_runtime(settings: Settings) -> Runtime:
    """Open the store and build the engine for ``settings``."""
    store = Store.open(settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds)
    directory = load_directory(settings.directory_path)
    engine = Engine(
        store,
        directory,
        audit_key=settings.audit_key,
        effects=transition_effects(settings, directory),
    )
    return Runtime(settings, store, directory, engine)
