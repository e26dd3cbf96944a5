"""Setting a database up: schema migrations and the registration of definition versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workflow.engine.history import append_system_entry
from workflow.errors import DefinitionConflict, InvalidInput
from workflow.inputs import integer_range
from workflow.process.definition import Definition
from workflow.store import definitions as definitions_store
from workflow.store import limits
from workflow.store.db import Store
from workflow.store.installation import ensure_installation, replace_installation
from workflow.store.migrate import upgrade


@dataclass(frozen=True)
class InitResult:
    """What ``ruhrflow init`` did."""

    schema_before: str | None
    schema_after: str
    definition_id: int
    definition_registered: bool
    installation_id: str


def version_problem(version: int) -> str | None:
    """Why the definitions table cannot hold ``version``, or None (issue 18.8).

    The process layer knows no table; ``definition check`` and ``init`` both ask here, so
    that a definition that checks clean can be registered.
    """
    highest = integer_range(limits.DEFINITION_VERSION)[1]
    if not 1 <= version <= highest:
        return f"must be a whole number from 1 to {highest}, not {version}"
    return None


def register_definition(store: Store, definition: Definition, now: datetime) -> tuple[int, bool]:
    """Register a definition version (idempotent); returns (id, newly registered).

    The same name and version with other content is refused: a changed process needs a
    new version, so that running proposals keep the version they started on.
    """
    problem = version_problem(definition.version)
    if problem is not None:
        raise InvalidInput(f"definition {definition.name}: version: {problem}")
    with store.write() as conn:
        row = definitions_store.registration_of(conn, definition.name, definition.version)
        if row is not None:
            if row.content_hash != definition.content_hash:
                raise DefinitionConflict(
                    f"definition {definition.name} version {definition.version} is registered"
                    f" with other content; give the changed file a new version number"
                )
            return int(row.id), False
        new_id = definitions_store.register(
            conn,
            name=definition.name,
            version=definition.version,
            content_hash=definition.content_hash,
            source=definition.source_text,
            now=now,
        )
        return new_id, True


def initialise(store: Store, definition: Definition, now: datetime) -> InitResult:
    """Create or upgrade the schema and register ``definition``; safe to run again."""
    problem = version_problem(definition.version)
    if problem is not None:  # before the schema is touched
        raise InvalidInput(f"definition {definition.name}: version: {problem}")
    before, after = upgrade(store)
    with store.write() as conn:  # made by migration 0007; here for a database without it
        installation = ensure_installation(conn, now)
    definition_id, registered = register_definition(store, definition, now)
    return InitResult(before, after, definition_id, registered, installation)


@dataclass(frozen=True)
class NewInstallation:
    """What ``ruhrflow db new-installation`` did."""

    old_id: str
    new_id: str
    seq: int  # of its entry on ``@system``


def new_installation(
    store: Store, *, actor_id: str, now: datetime, audit_key: bytes | None, reason: str | None
) -> NewInstallation:
    """Give a copied database an installation id of its own, recorded on ``@system``.

    A restored or copied database keeps the id of the one it came from: its scheduler would
    mail the ministries with that database's Message-IDs and calendar UIDs, which mail
    systems and calendars take for the same messages and events. One transaction: the new
    id and the ``installation`` entry (old and new id, who, why) commit together.
    """
    with store.write() as conn:
        old, new = replace_installation(conn)
        entry = append_system_entry(
            conn,
            kind="installation",
            trigger="new_installation",
            actor_id=actor_id,
            now=now,
            data={"old_installation_id": old, "installation_id": new},
            audit_key=audit_key,
            comment=reason,
        )
    return NewInstallation(old, new, int(entry["seq"]))
