"""Which migration a database is at, and the newest this ruhrflow ships (Alembic).

Apart from :mod:`workflow.store.migrate`, which runs migrations, so that the store's error
translation (:mod:`workflow.store.db`) can ask without importing what imports it.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

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


def revision_of(conn: Connection) -> str | None:
    """The migration the database behind ``conn`` is at (None for an empty database)."""
    return MigrationContext.configure(conn).get_current_revision()
