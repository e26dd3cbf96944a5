"""Schema migrations with Alembic, shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from workflow.store.db import Store

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the shipped migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of ruhrflow."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(store: Store) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with store.read() as conn:  # read() turns an unreachable database into StoreUnavailable
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migration; idempotent.

    Returns the revision before and after.
    """
    before = current_revision(store)
    with store.write() as conn:
        command.upgrade(alembic_config(conn), "head")
    return before, head_revision()
