"""ruhrflow: the workflow engine of the Ruhr-Konferenz.

What the engine offers, in one place. The names load lazily (PEP 562), so that importing
``workflow`` — as ``ruhrflow --help`` does — pulls in neither SQLAlchemy nor APScheduler.

>>> from workflow import load_settings, open_runtime          # doctest: +SKIP
>>> runtime = open_runtime(load_settings())                   # doctest: +SKIP
>>> runtime.engine.advance("RK-03-01", "submit", actor="forum-03", now=now)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow.lazy import lazy_exports

_EXPORTS = {
    # configuration and wiring
    "Settings": "workflow.app.settings",
    "load_settings": "workflow.app.settings",
    "Runtime": "workflow.app.runtime",
    "open_runtime": "workflow.app.runtime",
    "Directory": "workflow.access.directory",
    "load_directory": "workflow.access.directory",
    # process definitions
    "Definition": "workflow.process.definition",
    "load_definition": "workflow.process.definition",
    "parse_definition": "workflow.process.definition",
    "ProcessMachine": "workflow.process.machine",
    # the engine
    "Engine": "workflow.engine.engine",
    "Applied": "workflow.engine.changes",
    "BulkResult": "workflow.engine.changes",
    "TriggerOption": "workflow.engine.changes",
    "MigrationPlan": "workflow.engine.migration",
    "MigrationResult": "workflow.engine.migration",
    "ProposalInput": "workflow.engine.intake",
    "read_csv": "workflow.engine.intake",
    "initialise": "workflow.app.bootstrap",
    "Store": "workflow.store.db",
    # scheduling
    "sweep": "workflow.deadlines.sweep",
    "tick": "workflow.app.tick",
    "scheduler_hooks": "workflow.app.tick",
    # errors
    "WorkflowError": "workflow.errors",
    "InvalidInput": "workflow.errors",
    "InvalidDefinition": "workflow.errors",
    "TransitionNotAllowed": "workflow.errors",
    "PermissionDenied": "workflow.errors",
    "ConcurrentUpdate": "workflow.errors",
    "UnknownProposal": "workflow.errors",
    "StoreUnavailable": "workflow.errors",
}

__all__ = [  # noqa: RUF022 (grouped by concept, as dramatiq does)
    # configuration and wiring
    "Directory",
    "Runtime",
    "Settings",
    "load_directory",
    "load_settings",
    "open_runtime",
    # process definitions
    "Definition",
    "ProcessMachine",
    "load_definition",
    "parse_definition",
    # the engine
    "Applied",
    "BulkResult",
    "Engine",
    "MigrationPlan",
    "MigrationResult",
    "ProposalInput",
    "Store",
    "TriggerOption",
    "initialise",
    "read_csv",
    # scheduling
    "scheduler_hooks",
    "sweep",
    "tick",
    # errors
    "ConcurrentUpdate",
    "InvalidDefinition",
    "InvalidInput",
    "PermissionDenied",
    "StoreUnavailable",
    "TransitionNotAllowed",
    "UnknownProposal",
    "WorkflowError",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())


if TYPE_CHECKING:
    from workflow.access.directory import Directory, load_directory
    from workflow.app.bootstrap import initialise
    from workflow.app.runtime import Runtime, open_runtime
    from workflow.app.settings import Settings, load_settings
    from workflow.app.tick import scheduler_hooks, tick
    from workflow.deadlines.sweep import sweep
    from workflow.engine.changes import Applied, BulkResult, TriggerOption
    from workflow.engine.engine import Engine
    from workflow.engine.intake import ProposalInput, read_csv
    from workflow.engine.migration import MigrationPlan, MigrationResult
    from workflow.errors import (
        ConcurrentUpdate,
        InvalidDefinition,
        InvalidInput,
        PermissionDenied,
        StoreUnavailable,
        TransitionNotAllowed,
        UnknownProposal,
        WorkflowError,
    )
    from workflow.process.definition import Definition, load_definition, parse_definition
    from workflow.process.machine import ProcessMachine
    from workflow.store.db import Store
