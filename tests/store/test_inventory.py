"""The store's reads of a database of any release (``db status``), on both backends."""

from __future__ import annotations

import pytest

from workflow.store import inventory
from workflow.store.db import Store
from workflow.store.revision import expected_revision


def test_a_migrated_database_shows_its_tables_revision_and_installation(store: Store) -> None:
    # given a database migrated to the current schema (made by init)
    with store.read() as conn:
        # when its inventory is read
        tables = inventory.table_names(conn)
        revision = inventory.schema_revision(conn, tables)
        installation = inventory.installation_value(conn, "installation_id", tables)
        columns = inventory.column_names(conn, "installation")
    # then the tables, the current revision and an installation id are there
    assert {"proposals", "history", "definitions", "installation"} <= tables
    assert revision == expected_revision()
    assert installation
    assert {"installation_id", "sample_data"} <= columns


def test_a_table_that_is_not_there_reads_as_none(store: Store) -> None:
    # given a set of tables without the installation table (a database before 0007)
    with store.read() as conn:
        # when the installation id is asked for, then it is None, not an error
        assert inventory.installation_value(conn, "installation_id", set()) is None
        assert inventory.schema_revision(conn, set()) is None


def test_only_the_installation_columns_are_read(store: Store) -> None:
    # given a column name that is not one of the two the status reads
    with store.read() as conn, pytest.raises(ValueError, match="not a column"):
        # when it is asked for, then it is refused before any SQL is made of it
        inventory.installation_value(conn, "id; DROP TABLE proposals", {"installation"})
