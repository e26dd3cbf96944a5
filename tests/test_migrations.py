"""The migrations create exactly the tables of schema.py, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from workflow.store.db import Store
from workflow.store.migrate import current_revision, head_revision, upgrade
from workflow.store.schema import metadata


def test_migrated_database_matches_the_schema(store: Store) -> None:
    # given a database migrated to head (the fixture does it)
    # when alembic compares it with schema.py
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # then nothing differs
    assert diff == []


def test_upgrade_is_idempotent(store: Store) -> None:
    before, after = upgrade(store)
    assert before == after == head_revision() == current_revision(store)
