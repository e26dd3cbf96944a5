"""History is append-only in the database: no ruhrflow connection can change a row."""

from __future__ import annotations

import pytest
from conftest import NOW
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from support import add_proposal, walk_to

from workflow.engine.engine import Engine
from workflow.store.schema import history


def _entry(engine: Engine, key: str, seq: int) -> dict[str, object]:
    with engine.store.read() as conn:
        row = (
            conn.execute(select(history).where(history.c.chain == key, history.c.seq == seq))
            .mappings()
            .one()
        )
    return dict(row)


def test_update_of_a_written_entry_is_refused(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    with pytest.raises(DBAPIError, match="append-only"), engine.store.write() as conn:
        conn.execute(
            update(history).where(history.c.chain == key, history.c.seq == 2).values(comment="x")
        )
    assert _entry(engine, key, 2)["comment"] is None


def test_delete_of_a_written_entry_is_refused(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    with pytest.raises(DBAPIError, match="append-only"), engine.store.write() as conn:
        conn.execute(delete(history).where(history.c.chain == key))
    with engine.store.read() as conn:
        assert len(conn.execute(select(history.c.id).where(history.c.chain == key)).all()) == 3


def test_an_upsert_cannot_overwrite_an_entry(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    original = _entry(engine, key, 1)
    forged = {**original, "comment": "forged"}
    forged.pop("id")
    with pytest.raises(DBAPIError, match="append-only"), engine.store.write() as conn:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(history).values(forged)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(history).values(forged)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["chain", "seq"], set_={"comment": "forged"})
        )
    assert _entry(engine, key, 1) == original


@pytest.mark.parametrize("recursive_triggers", ["OFF", "ON"])
@pytest.mark.parametrize("same", ["chain_seq", "id"])
def test_sqlite_insert_or_replace_cannot_overwrite_an_entry(
    engine: Engine, recursive_triggers: str, same: str
) -> None:
    if engine.store.dialect != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "proposed", NOW)
    original = _entry(engine, key, 1)
    forged = {**original, "comment": "forged"}
    if same == "id":  # the same primary key, a fresh (chain, seq)
        forged["seq"] = 99
    else:
        forged.pop("id")
    with pytest.raises(DBAPIError, match="append-only"), engine.store.write() as conn:
        conn.exec_driver_sql(f"PRAGMA recursive_triggers={recursive_triggers}")
        conn.execute(insert(history).prefix_with("OR REPLACE").values(forged))
    assert _entry(engine, key, 1) == original


def test_postgresql_truncate_is_refused(engine: Engine) -> None:
    if engine.store.dialect != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    add_proposal(engine, NOW)
    with pytest.raises(DBAPIError, match="append-only"), engine.store.write() as conn:
        conn.execute(text("TRUNCATE history"))
    with engine.store.read() as conn:
        assert conn.execute(select(history.c.id)).first() is not None


def test_appending_still_works_under_the_triggers(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "completed", NOW)
    assert _entry(engine, key, 1)["kind"] == "created"
