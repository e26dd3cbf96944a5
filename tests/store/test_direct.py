"""The hot statements on the SQLite cursor (workflow/store/direct.py) write what SQLAlchemy
would write: the same lifecycle, with the direct path and without it, leaves byte-identical
tables. On PostgreSQL the direct path is never taken."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

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


def _play(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten proposals through the whole lifecycle, a bulk advance, a sweep and a delivery."""
    # actor refs commit to the actor with a random salt; numbered here so that both runs
    # chain the same bytes
    numbers = iter(range(1, 1000))
    monkeypatch.setattr(
        "workflow.store.attribution.secrets.token_hex", lambda n: f"{next(numbers):0{2 * n}x}"
    )
    config = tmp_path / f"{path.stem}.toml"
    config.write_text(config_text(tmp_path / "mail"), encoding="utf-8")
    rt = open_runtime(load_settings(config, database_url=f"sqlite:///{path}", env={}))
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
        _play(direct, tmp_path, m)
    with monkeypatch.context() as m:
        m.setattr(Direct, "_compile", lambda self, conn, keys: None)  # SQLAlchemy throughout
        _play(plain, tmp_path, m)
    # the direct path was taken, for updates and inserts alike
    assert {"UPDATE", "INSERT"} <= set(taken)
    mine, theirs = _dump(direct), _dump(plain)
    assert all(mine[t] for t in TABLES)
    for table in TABLES:
        assert mine[table] == theirs[table], table


def test_postgresql_never_takes_the_direct_path(postgres_admin_url: str) -> None:
    from sqlalchemy import create_engine, select

    from workflow.store.schema import proposals

    engine = create_engine(postgres_admin_url)
    try:
        with engine.connect() as conn:
            assert Direct(select(proposals))._build(conn, ()) is None
    finally:
        engine.dispose()


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
