"""Schema migrations with Alembic, shipped inside the package."""

from __future__ import annotations

from alembic import command

from workflow.store.db import Store
from workflow.store.revision import MIGRATIONS, alembic_config, head_revision, revision_of

__all__ = ["MIGRATIONS", "alembic_config", "current_revision", "head_revision", "upgrade"]


def current_revision(store: Store) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with store.read() as conn:  # read() turns an unreachable database into StoreUnavailable
        return revision_of(conn)


def upgrade(store: Store) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migration; idempotent.

    Returns the revision before and after.
    """
    before = current_revision(store)
    with store.write() as conn:
        command.upgrade(alembic_config(conn), "head")
    return before, head_revision()
