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
    "Settings": "workflow.settings",
    "load_settings": "workflow.settings",
    "Runtime": "workflow.runtime",
    "open_runtime": "workflow.runtime",
    "Directory": "workflow.directory",
    "load_directory": "workflow.directory",
    # process definitions
    "Definition": "workflow.definition",
    "load_definition": "workflow.definition",
    "parse_definition": "workflow.definition",
    "ProcessMachine": "workflow.machine",
    # the engine
    "Engine": "workflow.engine",
    "Applied": "workflow.engine",
    "BulkResult": "workflow.engine",
    "TriggerOption": "workflow.engine",
    "ProposalInput": "workflow.intake",
    "create_proposals": "workflow.intake",
    "import_rows": "workflow.intake",
    "initialise": "workflow.bootstrap",
    "Store": "workflow.store.db",
    # scheduling
    "sweep": "workflow.sweep",
    "tick": "workflow.scheduling",
    "scheduler_hooks": "workflow.scheduling",
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
    "ProposalInput",
    "Store",
    "TriggerOption",
    "create_proposals",
    "import_rows",
    "initialise",
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
    from workflow.bootstrap import initialise
    from workflow.definition import Definition, load_definition, parse_definition
    from workflow.directory import Directory, load_directory
    from workflow.engine import Applied, BulkResult, Engine, TriggerOption
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
    from workflow.intake import ProposalInput, create_proposals, import_rows
    from workflow.machine import ProcessMachine
    from workflow.runtime import Runtime, open_runtime
    from workflow.scheduling import scheduler_hooks, tick
    from workflow.settings import Settings, load_settings
    from workflow.store.db import Store
    from workflow.sweep import sweep
