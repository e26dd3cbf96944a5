"""The definition a proposal's page and forms come from: its registered version.

The definition file names what the process is now; a proposal follows the version it was
registered under until it is migrated. Its page and forms take states, labels, fields and
permissions from that version, so a field that exists only in the registered version is
asked for (the file's definition silently dropped it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.process.definition import Definition
from workflow.web.state import web


def definition_of(detail: Mapping[str, Any]) -> Definition:
    """The registered definition version of the proposal ``detail`` describes (its
    ``definition_id``), parsed once per process by the runtime's registry of machines."""
    runtime = web().runtime
    with runtime.store.read() as conn:
        return runtime.machines.definition(conn, int(detail["definition_id"]))
