"""The hot statements on the SQLite cursor (workflow/store/direct.py) write what SQLAlchemy
would write: the same lifecycle, with the direct path and without it, leaves byte-identical
tables. PostgreSQL's direct path (psycopg's cursor): each statement returns what SQLAlchemy returns
(types too), the same lifecycle writes the same rows, and it shares SQLAlchemy's transaction."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import NOW
from conftest import test_config_text as config_text
from support import add_proposal, delivery_of, walk_to

from notifications.mail.transport import MemoryTransport
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import load_settings
from workflow.deadlines.sweep import sweep
from workflow.notices.delivery import deliver
from workflow.store.direct import Direct

TABLES = ("proposals", "history", "deadlines", "deadline_rungs", "outbox", "actor_refs")


def _play(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Ten proposals through the whole lifecycle, a bulk advance, a sweep and a delivery."""
    # actor refs commit to the actor with a random salt; numbered here so that both runs
    # chain the same bytes
    numbers = iter(range(1, 1000))
    monkeypatch.setattr(
        "workflow.store.attribution.secrets.token_hex", lambda n: f"{next(numbers):0{2 * n}x}"
    )
    config = tmp_path / f"{name}.toml"
    config.write_text(config_text(tmp_path / "mail"), encoding="utf-8")
    rt = open_runtime(load_settings(config, database_url=url, env={}))
    try:
        engine = rt.engine
        keys = [add_proposal(engine, NOW, title=f"Vorschlag {i} (Testdaten)") for i in range(10)]
        for key in keys[:6]:
            walk_to(engine, key, "completed", NOW)
        for key in keys[6:]:
            walk_to(engine, key, "funded", NOW)
        later = NOW + timedelta(days=3)
        engine.advance_many("start", keys=keys[6:], actor="koordination", now=later)
        engine.advance(keys[6], "report_progress", actor="im", now=later + timedelta(days=1),
                       fields={"progress": 30}, comment="Zwischenstand „gut“")  # fmt: skip
        sweep(engine.store, engine.machines, engine.append_event, later + timedelta(days=200))
        deliver(delivery_of(rt), MemoryTransport(), later + timedelta(days=200))
    finally:
        rt.close()


def _columns(conn: sqlite3.Connection, table: str) -> str:
    # recorded_at is the database's own clock at the insert: it differs between two runs
    names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    return ", ".join(n for n in names if n != "recorded_at")


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT {_columns(conn, t)} FROM {t} ORDER BY 1").fetchall()
            for t in TABLES
        }
    finally:
        conn.close()


def test_direct_and_sqlalchemy_write_the_same_bytes(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, plain = tmp_path / "direct.db", tmp_path / "plain.db"
    shutil.copyfile(sqlite_template, direct)
    shutil.copyfile(sqlite_template, plain)
    taken: list[str] = []
    compile_ = Direct._compile  # (compiled statements are cached per Direct: patch the lookup)

    def counting(self: Direct, conn: object, keys: tuple[str, ...]) -> object:
        found = compile_(self, conn, keys)  # type: ignore[arg-type]
        if found is not None:
            taken.append(found.sql.split()[0])
        return found

    with monkeypatch.context() as m:
        m.setattr(Direct, "_compile", counting)
        _play(f"sqlite:///{direct}", tmp_path, m, "direct")
    with monkeypatch.context() as m:
        m.setattr(Direct, "_compile", lambda self, conn, keys: None)  # SQLAlchemy throughout
        _play(f"sqlite:///{plain}", tmp_path, m, "plain")
    # the direct path was taken, for updates and inserts alike
    assert {"UPDATE", "INSERT"} <= set(taken)
    mine, theirs = _dump(direct), _dump(plain)
    assert all(mine[t] for t in TABLES)
    for table in TABLES:
        assert mine[table] == theirs[table], table


def test_a_proposal_read_directly_equals_the_sqlalchemy_row(runtime: Runtime) -> None:
    # every column type of the table: JSON (list and object), money, aware datetimes
    from sqlalchemy import select

    from workflow.store import repo
    from workflow.store.schema import proposals

    key = add_proposal(runtime.engine, NOW, cost=1_234_567)
    walk_to(runtime.engine, key, "funded", NOW)
    with runtime.store.read() as conn:
        (direct,) = repo.load_proposals(conn, keys=[key])
        row = conn.execute(select(proposals).where(proposals.c.key == key)).mappings().one()
    assert dict(direct) == dict(row)
    assert {k: type(v) for k, v in dict(direct).items()} == {
        k: type(v) for k, v in dict(row).items()
    }
    assert row["cost_estimate"] is not None and row["data"]


def test_many_rows_convert_each_time_as_sqlalchemy_does_even_in_a_fold(tmp_path: Path) -> None:
    # given rows whose times repeat (what a bulk advance writes) and two equal wall times of
    # the autumn fold in Berlin that are an hour apart (fold 0 and fold 1), and a same-instant
    # time in UTC
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

    from workflow.store.schema import UTCDateTime

    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2019, 10, 27, 2, 30, tzinfo=berlin)  # 00:30 UTC
    second = first.replace(fold=1)  # 01:30 UTC
    times = [first, second, first, second.astimezone(UTC), first.astimezone(UTC)] * 3
    meta = MetaData()
    table = Table("t", meta, Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    engine = create_engine(f"sqlite:///{tmp_path / 'fold.db'}")
    meta.create_all(engine)
    rows = [{"id": i, "at": at} for i, at in enumerate(times)]
    # when they are written directly, many rows at once
    with engine.begin() as conn:
        written = Direct(insert(table)).executemany(conn, rows)
    # then each row holds its own instant, as SQLAlchemy's own insert stores it
    assert written == len(rows)
    with engine.begin() as conn:
        stored = [r.at for r in conn.execute(select(table).order_by(table.c.id))]
        conn.execute(table.delete())
        conn.execute(insert(table), rows)
        expected = [r.at for r in conn.execute(select(table).order_by(table.c.id))]
    assert stored == expected == [t.astimezone(UTC) for t in times]
    assert stored[0] != stored[1]
    engine.dispose()


# --- PostgreSQL: the direct path on psycopg's cursor -------------------------------------------


def _pg_dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {}
            for table in TABLES:
                names = [
                    n
                    for (n,) in conn.execute(
                        text(
                            "SELECT column_name FROM information_schema.columns"
                            " WHERE table_name = :t ORDER BY ordinal_position"
                        ),
                        {"t": table},
                    )
                    if n != "recorded_at"
                ]
                columns = ", ".join(f'"{n}"' for n in names)
                found[table] = [
                    tuple(r)
                    for r in conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1"))
                ]
            return found
    finally:
        engine.dispose()


def _typed(value: object) -> object:
    """A value with its type (and a time's zone): equal only if both are exactly alike."""
    if isinstance(value, Mapping):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value, getattr(value, "tzinfo", None))


def test_postgresql_direct_and_sqlalchemy_write_the_same_rows(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import fresh_database

    direct_db = fresh_database(request, "postgresql", tmp_path)
    plain_db = fresh_database(request, "postgresql", tmp_path)
    direct, plain = next(direct_db), next(plain_db)
    try:
        taken: list[str] = []
        compile_ = Direct._compile

        def counting(self: Direct, conn: object, keys: tuple[str, ...]) -> object:
            found = compile_(self, conn, keys)  # type: ignore[arg-type]
            if found is not None:
                taken.append(found.sql.split()[0])
            return found

        with monkeypatch.context() as m:
            m.setattr(Direct, "_compile", counting)
            _play(direct, tmp_path, m, "direct")
        with monkeypatch.context() as m:
            m.setattr(Direct, "_compile", lambda self, conn, keys: None)
            _play(plain, tmp_path, m, "plain")
        assert {"SELECT", "WITH", "INSERT"} <= set(taken)
        mine, theirs = _pg_dump(direct), _pg_dump(plain)
        assert all(mine[t] for t in TABLES)
        for table in TABLES:
            assert _typed(mine[table]) == _typed(theirs[table]), table
    finally:
        for db in (direct_db, plain_db):
            next(db, None)


def test_postgresql_direct_returns_what_sqlalchemy_returns(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every call of a Direct statement in the lifecycle runs first through SQLAlchemy (in a
    # savepoint, rolled back), then directly: both must give the same values of the same types
    from conftest import fresh_database

    database = fresh_database(request, "postgresql", tmp_path)
    url = next(database)
    seen: list[tuple[str, str]] = []
    plain = [False]
    compile_ = Direct._compile

    def switched(self: Direct, conn: Any, keys: tuple[str, ...]) -> Any:
        return None if plain[0] else compile_(self, conn, keys)

    def both(name: str) -> Any:
        original = getattr(Direct, name)

        def run(self: Direct, conn: Any, params: Any) -> Any:
            savepoint = conn.begin_nested()
            plain[0] = True
            try:
                theirs = original(self, conn, params)
            finally:
                plain[0] = False
                savepoint.rollback()
            mine = original(self, conn, params)
            compiled = compile_(self, conn, tuple(params[0] if name == "executemany" else params))
            sql = compiled.sql if compiled is not None else "(SQLAlchemy)"
            inserting = sql.startswith(("INSERT", "WITH d AS"))
            if inserting and name in ("all", "lastrowid") and theirs:
                # a new row's key: the sequence moved on by the rolled back insert
                key = theirs if name == "lastrowid" else theirs[0][0]
                assert (mine if name == "lastrowid" else mine[0][0]) == key + 1, sql
                assert _typed(mine) != _typed(theirs) or not theirs
            else:
                assert _typed(mine) == _typed(theirs), sql
            seen.append((name, sql.split()[0]))
            return mine

        return run

    try:
        with monkeypatch.context() as m:
            m.setattr(Direct, "_compile", switched)
            for name in ("rowcount", "lastrowid", "all", "mappings", "executemany"):
                m.setattr(Direct, name, both(name))
            _play(url, tmp_path, m, "both")
    finally:
        next(database, None)
    kinds = set(seen)
    # the locking and plain reads of a proposal, the update with its history entry, closing
    # or meeting deadlines with their rungs, a deadline with its rungs, a notice
    assert {
        ("mappings", "SELECT"),
        ("rowcount", "WITH"),
        ("all", "WITH"),
        ("all", "SELECT"),
    } <= kinds
    assert ("executemany", "INSERT") in kinds or ("all", "INSERT") in kinds


def test_postgresql_every_column_type_comes_back_as_through_sqlalchemy(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from conftest import fresh_database
    from sqlalchemy import (
        Boolean,
        Column,
        Float,
        Integer,
        MetaData,
        Numeric,
        String,
        Table,
        bindparam,
        create_engine,
        insert,
        select,
    )

    from workflow.store.schema import JSONType, UTCDateTime

    database = fresh_database(request, "postgresql", tmp_path)
    url = next(database)
    meta = MetaData()
    table = Table(
        "direct_types",
        meta,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime),
        Column("money", Numeric(12, 2)),
        Column("ratio", Float),
        Column("flag", Boolean),
        Column("data", JSONType),
        Column("name", String(40)),
    )
    row = {
        "id": 1,
        "at": datetime(2019, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
        "money": Decimal("1234.50"),
        "ratio": 0.25,
        "flag": True,
        "data": {"a": [1, 2.5, None, "ü"], "b": {"c": False}},
        "name": "Straße",
    }
    engine = create_engine(url)
    try:
        meta.create_all(engine)
        statements: list[tuple[Any, dict[str, Any]]] = [
            (insert(table).returning(*table.c), row),
            (select(table).where(table.c.id == bindparam("one")), {"one": 1}),
            (select(table.c.money, table.c.at).where(table.c.flag.is_(True)), {}),
        ]
        with engine.begin() as conn:
            for statement, params in statements:
                direct = Direct(statement)
                if statement.is_dml:
                    mine = direct.all(conn, params)
                    conn.execute(table.delete())
                    theirs = [tuple(r) for r in conn.execute(statement, params)]
                else:
                    mine = direct.all(conn, params)
                    theirs = [tuple(r) for r in conn.execute(statement, params)]
                    assert _typed(direct.mappings(conn, params)) == _typed(
                        list(conn.execute(statement, params).mappings())
                    )
                assert direct._compile(conn, tuple(params)) is not None
                assert mine and _typed(mine) == _typed(theirs)
        assert mine[0][1] == datetime(2019, 10, 27, 1, 30, tzinfo=UTC)
        assert mine[0][1].tzinfo is UTC
    finally:
        engine.dispose()
        next(database, None)


def test_postgresql_direct_statements_share_sqlalchemys_transaction(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from conftest import fresh_database
    from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
    from sqlalchemy.exc import IntegrityError, PendingRollbackError

    database = fresh_database(request, "postgresql", tmp_path)
    url = next(database)
    meta = MetaData()
    table = Table("direct_tx", meta, Column("id", Integer, primary_key=True), Column("s", String))
    adding = Direct(insert(table))
    engine = create_engine(url)

    def stored() -> list[int]:
        with engine.connect() as conn:
            return [i for (i,) in conn.execute(select(table.c.id).order_by(table.c.id))]

    try:
        meta.create_all(engine)
        # a failure after direct and SQLAlchemy writes: neither stays
        with pytest.raises(RuntimeError), engine.begin() as conn:
            adding.rowcount(conn, {"id": 1, "s": "direct"})
            conn.execute(insert(table), {"id": 2, "s": "sqlalchemy"})
            adding.rowcount(conn, {"id": 3, "s": "direct"})
            raise RuntimeError("mid-way")
        assert stored() == []
        # a direct statement the server refuses: SQLAlchemy's exception, the earlier writes
        # of both paths rolled back
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(table), {"id": 4, "s": "sqlalchemy"})
            adding.rowcount(conn, {"id": 5, "s": "direct"})
            adding.rowcount(conn, {"id": 4, "s": "again"})
        assert stored() == []
        # a direct statement first begins SQLAlchemy's transaction (its autobegin)
        with engine.connect() as conn:
            adding.rowcount(conn, {"id": 6, "s": "direct"})
            assert conn.in_transaction()
            conn.rollback()
        assert stored() == []
        # a savepoint rolled back takes only its own direct write with it
        with engine.begin() as conn:
            adding.rowcount(conn, {"id": 7, "s": "direct"})
            with pytest.raises(IntegrityError), conn.begin_nested():
                adding.rowcount(conn, {"id": 8, "s": "direct"})
                adding.rowcount(conn, {"id": 7, "s": "twice"})
            adding.rowcount(conn, {"id": 9, "s": "direct"})
        assert stored() == [7, 9]
        # a transaction its connection lost (invalidated: a disconnect) refuses a direct
        # statement as it refuses SQLAlchemy's own, until it is rolled back
        with engine.connect() as conn:
            conn.begin()
            conn.invalidate()
            with pytest.raises(PendingRollbackError):
                conn.execute(select(table.c.id))
            with pytest.raises(PendingRollbackError):
                adding.rowcount(conn, {"id": 10, "s": "direct"})
            conn.rollback()
        assert stored() == [7, 9]
    finally:
        engine.dispose()
        next(database, None)


def test_postgresql_direct_statements_show_in_sqlalchemys_cursor_events(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # what counts statements (bench.breakdown, a test's spy) sees the direct ones too
    from conftest import fresh_database
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, insert, select

    database = fresh_database(request, "postgresql", tmp_path)
    url = next(database)
    meta = MetaData()
    table = Table("direct_events", meta, Column("id", Integer, primary_key=True))
    engine = create_engine(url)
    seen: list[tuple[str, str]] = []
    try:
        meta.create_all(engine)
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(("before", a[2])))
        event.listen(engine, "after_cursor_execute", lambda *a: seen.append(("after", a[2])))
        with engine.begin() as conn:
            Direct(insert(table)).rowcount(conn, {"id": 1})
            rows = Direct(select(table)).all(conn, {})
        assert rows == [(1,)]
        assert [kind for kind, _ in seen] == ["before", "after", "before", "after"]
        assert seen[0][1].startswith("INSERT INTO direct_events")
        assert seen[2][1].startswith("SELECT direct_events.id")
    finally:
        engine.dispose()
        next(database, None)


def test_json_and_times_read_directly_equal_sqlalchemys_for_any_stored_text(
    tmp_path: Path,
) -> None:
    # given stored texts of a JSON column as SQLAlchemy writes them and as anyone else might
    # (whitespace around the value, a bare number, escapes, a byte order mark, garbage), and
    # the times of a UTCDateTime column, some repeated, some not in SQLAlchemy's own format
    from sqlalchemy import Column, Integer, MetaData, Table, bindparam, create_engine, select

    from workflow.store.schema import JSONType, UTCDateTime

    meta = MetaData()
    table = Table(
        "t",
        meta,
        Column("id", Integer, primary_key=True),
        Column("doc", JSONType),
        Column("at", UTCDateTime),
    )
    path = tmp_path / "json.db"
    engine = create_engine(f"sqlite:///{path}")
    meta.create_all(engine)
    texts = ['{"a": [1, 2.5, null, true], "b": {"c": "\\u00e4"}}', "[]", "{}", " [1] ",
             "[1]\n", "7", '"text"', "null", "\ufeff[1]", "[1] [2]", "", "nope", "[1,",
             '{"a": NaN}']  # fmt: skip
    times = ["2019-07-16 08:00:00.000000", "2019-07-16 09:30:00", "2019-07-16T10:00:00+01:00",
             "2019-07-16 08:00:00.000000", None]  # fmt: skip
    raw = sqlite3.connect(path)
    raw.executemany(
        "INSERT INTO t (id, doc, at) VALUES (?, ?, ?)",
        [(i, text, times[i % len(times)]) for i, text in enumerate(texts)],
    )
    raw.execute("INSERT INTO t (id, doc, at) VALUES (100, NULL, NULL)")
    raw.commit()
    raw.close()

    def outcome(read: Any) -> object:
        try:
            return ("ok", _typed(read()))
        except Exception as exc:  # the same error, with the same message
            return ("error", type(exc).__name__, str(exc))

    # when each row is read directly and through SQLAlchemy
    by_id = select(table).where(table.c.id == bindparam("row_id"))
    direct = Direct(by_id)
    with engine.connect() as conn:
        for i in [*range(len(texts)), 100]:
            ours = outcome(lambda i=i: direct.mappings(conn, {"row_id": i})[0])
            as_tuple = outcome(lambda i=i: direct.all(conn, {"row_id": i})[0])
            theirs = outcome(lambda i=i: dict(conn.execute(by_id, {"row_id": i}).mappings().one()))
            plain = outcome(lambda i=i: tuple(conn.execute(by_id, {"row_id": i}).one()))
            # then both give the same values of the same types, or the same error
            assert ours == theirs, texts[i] if i < len(texts) else i
            assert as_tuple == plain, texts[i] if i < len(texts) else i
    engine.dispose()


def test_a_text_statement_without_its_columns_maps_as_sqlalchemy_does(database_url: str) -> None:
    # a text() that declares no columns: Direct knows no names for them, so it hands the
    # statement to SQLAlchemy, which names them from the cursor (review of #29: on SQLite it
    # made rows without a single key)
    from sqlalchemy import text

    from workflow.store.db import Store

    store = Store.open(database_url)
    try:
        with store.read() as conn:
            rows = Direct(text("SELECT 1 AS a, 'x' AS b")).mappings(conn, {})
    finally:
        store.dispose()
    assert [dict(r) for r in rows] == [{"a": 1, "b": "x"}]
