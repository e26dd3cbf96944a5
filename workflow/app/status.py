"""Where a database stands, and what ``ruhrflow init`` would do to it — without changing it.

``ruhrflow db status`` and ``ruhrflow init --dry-run`` read here. Both work on any database a
release of ruhrflow made (an empty one, one a migration behind, one of a newer release), so
nothing here may assume the current schema: every table is asked for before it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.process.definition import Definition, parse_definition
from workflow.store import definitions as definitions_store
from workflow.store import inventory
from workflow.store.db import Connection, Store
from workflow.store.revision import expected_revision, pending_revisions, schema_state
from workflow.version import __version__


@dataclass(frozen=True)
class RegisteredVersion:
    """A definition version in the database, and how many proposals run on it."""

    name: str
    version: int
    content_hash: str
    registered_at: Any
    proposals: int
    file_format: int | None  # None when the stored source does not load (see ``problem``)
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "registered_at": self.registered_at.isoformat() if self.registered_at else None,
            "proposals": self.proposals,
            "format": self.file_format,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class DatabaseStatus:
    """What ``ruhrflow db status`` reports."""

    url: str
    backend: str
    code_version: str
    revision: str | None
    expected: str
    pending: tuple[str, ...]
    installation_id: str | None
    sample_data: str | None
    definitions: tuple[RegisteredVersion, ...]
    grants: Mapping[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        """``current``, ``empty``, ``older`` (run init) or ``newer`` (upgrade ruhrflow)."""
        return schema_state(self.revision)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "url": self.url,
            "backend": self.backend,
            "ruhrflow": self.code_version,
            "schema": self.schema,
            "revision": self.revision,
            "expected_revision": self.expected,
            "pending_migrations": list(self.pending),
            "installation_id": self.installation_id,
            "sample_data": self.sample_data,
            "definitions": [d.as_dict() for d in self.definitions],
            "grants": dict(self.grants),
        }


def database_status(store: Store) -> DatabaseStatus:
    """Read where the database behind ``store`` stands (one read transaction)."""
    with store.read() as conn:
        tables = inventory.table_names(conn)
        revision = inventory.schema_revision(conn, tables)
        installation_id = inventory.installation_value(conn, "installation_id", tables)
        sample = None
        if "installation" in tables and "sample_data" in inventory.column_names(
            conn, "installation"
        ):
            sample = inventory.installation_value(conn, "sample_data", tables)
        versions = _registered(conn, tables)
        grants: dict[str, Any] = {}
        if store.dialect == "postgresql" and revision == expected_revision():
            from workflow.access.grants import grants_status

            grants = grants_status(conn)
    return DatabaseStatus(
        url=store.engine.url.render_as_string(hide_password=True),
        backend=store.dialect,
        code_version=__version__,
        revision=revision,
        expected=expected_revision(),
        pending=pending_revisions(revision),
        installation_id=installation_id,
        sample_data=sample,
        definitions=versions,
        grants=grants,
    )


def _registered(conn: Connection, tables: set[str]) -> tuple[RegisteredVersion, ...]:
    if "definitions" not in tables:
        return ()
    counts: dict[int, int] = {}
    if "proposals" in tables:
        counts = inventory.proposals_per_definition(conn)
    found = []
    for row in definitions_store.registered_versions(conn):
        file_format: int | None = None
        problem = None
        try:
            parsed = parse_definition(str(row["source"]), f"{row['name']} v{row['version']}")
            file_format = parsed.file_format
        except Exception as exc:  # reported, not raised: status must show every version
            problem = " ".join(str(exc).split())
        found.append(
            RegisteredVersion(
                name=str(row["name"]),
                version=int(row["version"]),
                content_hash=str(row["content_hash"]),
                registered_at=row["registered_at"],
                proposals=counts.get(int(row["id"]), 0),
                file_format=file_format,
                problem=problem,
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class InitPlan:
    """What ``ruhrflow init`` would do (``--dry-run``)."""

    status: DatabaseStatus
    definition: Definition
    registration: str  # register | registered | conflict

    def lines(self) -> list[str]:
        """The plan, one step a line (English, for the operator)."""
        s = self.status
        out = []
        if s.schema == "newer":
            out.append(
                f"refuse: the schema ({s.revision}) is newer than ruhrflow {s.code_version}"
                " knows; upgrade ruhrflow"
            )
            return out
        if s.pending:
            start = s.revision or "empty"
            out.append(f"migrate the schema of {s.url}: {start} → {s.expected}"
                       f" ({len(s.pending)} migration(s): {', '.join(s.pending)})")  # fmt: skip
        else:
            out.append(f"schema of {s.url} is up to date ({s.expected}): nothing to migrate")
        if s.installation_id is None:
            out.append("make an installation id (Message-IDs and calendar UIDs)")
        else:
            out.append(f"keep installation id {s.installation_id}")
        d = self.definition
        if self.registration == "register":
            out.append(f"register definition {d.name} version {d.version} (new proposals start"
                       " on it; running ones keep theirs)")  # fmt: skip
        elif self.registration == "registered":
            out.append(f"definition {d.name} version {d.version} is already registered")
        else:
            out.append(f"refuse: definition {d.name} version {d.version} is registered with other"
                       " content; give the changed file a new version number")  # fmt: skip
        if s.backend == "postgresql":
            out.append("afterwards, as the owner: ruhrflow db grants --apply")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "status": self.status.as_dict(),
            "definition": {"name": self.definition.name, "version": self.definition.version},
            "registration": self.registration,
            "steps": self.lines(),
        }


def init_plan(store: Store, definition: Definition) -> InitPlan:
    """What ``ruhrflow init`` would do to the database behind ``store`` with ``definition``."""
    status = database_status(store)
    registration = "register"
    for registered in status.definitions:
        if registered.name == definition.name and registered.version == definition.version:
            same = registered.content_hash == definition.content_hash
            registration = "registered" if same else "conflict"
    return InitPlan(status, definition, registration)
