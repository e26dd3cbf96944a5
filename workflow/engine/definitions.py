"""The registry of definition versions: one :class:`ProcessMachine` per version, built once."""

from __future__ import annotations

from workflow.errors import StoreUnavailable
from workflow.process.definition import Definition
from workflow.process.definition_cache import definition_of
from workflow.process.machine import ProcessMachine
from workflow.store import repo
from workflow.store.db import Connection


class Machines:
    """One ProcessMachine per registered definition version, built once per process."""

    def __init__(self) -> None:
        self._by_id: dict[int, ProcessMachine] = {}

    def get(self, conn: Connection, definition_id: int) -> ProcessMachine:
        """The machine of a registered definition version."""
        machine = self._by_id.get(definition_id)
        if machine is None:
            row = repo.definition_row(conn, definition_id)
            if row is None:
                raise StoreUnavailable(f"definition {definition_id} is not registered")
            # parsed and validated; read from the cache of parsed definitions only when the
            # command's start-up switched it on (a one-shot CLI command: workflow/cli/startup.py)
            definition = definition_of(row["source"], f"{row['name']} v{row['version']}")
            machine = self._by_id[definition_id] = ProcessMachine(definition)
        return machine

    def definition(self, conn: Connection, definition_id: int) -> Definition:
        """The registered definition version ``definition_id``."""
        return self.get(conn, definition_id).definition
