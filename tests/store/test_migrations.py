"""The migrations create exactly the tables of schema.py, on both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import NOW
from sqlalchemy import Connection, select, text
from sqlalchemy import inspect as sa_inspect
from support import delivery_of

from notifications.mail.addresses import message_id
from notifications.mail.transport import MemoryTransport
from workflow.app.runtime import Runtime
from workflow.notices.delivery import deliver
from workflow.store.db import Store
from workflow.store.migrate import alembic_config, current_revision, head_revision, upgrade
from workflow.store.schema import metadata, outbox


def _of_the_backend(name: str) -> Any:
    """Alembic's include_object: schema.py's objects made on backend ``name`` (ddl_if)."""

    def include(obj: Any, _name: Any, _type: Any, reflected: bool, _to: Any) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return reflected or only is None or only.dialect in (None, name)

    return include


# Alembic compares no index on an expression on SQLite (it cannot reflect one), and says so;
# ix_proposals_upper_lead is PostgreSQL's only (test_0016_… holds SQLite to having none),
# ix_proposals_upper_lead_lead SQLite's (test_0017_…)
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrated_database_matches_the_schema(store: Store) -> None:
    # given a database migrated to head (the fixture does it)
    # when alembic compares it with schema.py (what schema.py makes on this backend)
    with store.engine.connect() as conn:
        opts = {"include_object": _of_the_backend(conn.dialect.name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    # then nothing differs
    assert diff == []


def test_upgrade_is_idempotent(store: Store) -> None:
    before, after = upgrade(store)
    assert before == after == head_revision() == current_revision(store)


def _old_form_notice(conn: Connection) -> None:
    """A notice as 0003 stored it: rendered when enqueued, bodies in the row (IM's digest: the
    delivery worker sends only notices the engine could have written)."""
    conn.execute(
        text(
            "INSERT INTO outbox (idempotency_key, kind, recipients, subject, body_text,"
            " body_html, attachments, status, attempts, next_attempt_at, message_id, created_at)"
            " VALUES ('digest:IM:2019-W28', 'digest', :recipients, 'Alter Betreff', 'Alter Text',"
            " '<p>Alter Text</p>', :attachments, 'pending', 0, :now, :mid, :now)"
        ),
        {
            "recipients": json.dumps([{"name": "IM", "address": "ruhr-konferenz@im.nrw.example"}]),
            "attachments": "[]",
            "now": NOW,
            "mid": message_id("digest:IM:2019-W28", "ruhrflow.invalid", installation="0" * 32),
        },
    )


def test_a_notice_stored_before_0004_is_sent_as_it_was_rendered(runtime: Runtime) -> None:
    store = runtime.store
    # given a database at 0003 holding a notice rendered at enqueue time
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0003")
    with store.write() as conn:
        _old_form_notice(conn)
    # when it is upgraded and the notice delivered
    upgrade(store)
    assert current_revision(store) == head_revision()
    transport = MemoryTransport()
    assert deliver(delivery_of(runtime), transport, NOW).sent == 1
    # then the mail carries the stored subject and body, not a re-rendering
    (message,) = transport.outbox
    assert message["Subject"] == "Alter Betreff"
    plain = message.get_body(("plain",))
    assert plain is not None and plain.get_content().strip() == "Alter Text"


def test_the_downgrade_below_0004_refuses_while_notices_are_unrendered(store: Store) -> None:
    # given a notice of the new form (a context, no body yet)
    with store.write() as conn:
        conn.execute(
            outbox.insert().values(
                idempotency_key="new:1", kind="digest", recipients=[], subject="S",
                context={}, status="failed", attempts=0, next_attempt_at=NOW,
                message_id=message_id("new:1", "ruhrflow.invalid", installation="0" * 32),
                created_at=NOW,
            )
        )  # fmt: skip
    # when the schema is taken back to 0003, then it refuses and nothing changes
    with pytest.raises(RuntimeError, match="1 notice"), store.write() as conn:
        command.downgrade(alembic_config(conn), "0003")
    assert current_revision(store) == head_revision()


def test_chains_written_before_0006_verify_after_it(runtime: Runtime) -> None:
    from support import add_proposal, walk_to

    from workflow.audit import verify_store
    from workflow.store.schema import history

    store, engine = runtime.store, runtime.engine
    # given history written, and the schema taken back before 0006 (no recorded_at)
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0005_web")
    assert current_revision(store) == "0005_web"
    # when it is upgraded again and the proposal goes on
    upgrade(store)
    assert current_revision(store) == head_revision()
    engine.record_statement(key, party="Stadt Essen", group="kommune", position="support",
                            text="", actor="koordination", now=NOW)  # fmt: skip
    # then the old entries (recorded_at unknown) and the new one verify as one chain
    with store.read() as conn:
        recorded = conn.execute(
            select(history.c.recorded_at).where(history.c.chain == key).order_by(history.c.seq)
        ).scalars().all()  # fmt: skip
    assert recorded[:-1] == [None] * (len(recorded) - 1) and recorded[-1] is not None
    result = verify_store(store, key=engine.audit_key)
    assert result.ok, result.broken
    assert result.entries == len(recorded)


def test_the_session_epoch_goes_down_to_0008_and_up_again(store: Store) -> None:
    from sqlalchemy import inspect

    from workflow.store.schema import web_accounts

    def columns() -> set[str]:
        with store.engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("web_accounts")}

    # given an account whose password was changed twice
    with store.write() as conn:
        conn.execute(
            web_accounts.insert().values(
                actor_id="im", password_hash="!", created_at=NOW, updated_at=NOW, session_epoch=2
            )
        )
    # when the schema goes back to 0008_robust
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0008_robust")
    # then the column is gone, the account and the tokens' foreign key are kept
    assert "session_epoch" not in columns()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT actor_id FROM web_accounts")).scalars().all() == ["im"]
        (fk,) = inspect(conn).get_foreign_keys("web_tokens")
        assert fk["referred_table"] == "web_accounts"
    # and upgrading brings it back, in a new epoch (a session from before does not match)
    upgrade(store)
    assert current_revision(store) == head_revision() and "session_epoch" in columns()
    with store.read() as conn:
        assert conn.execute(select(web_accounts.c.session_epoch)).scalar_one() not in (0, 2)


def test_a_database_behind_this_version_says_run_init(runtime: Runtime, settings: object) -> None:
    from workflow.errors import StoreUnavailable
    from workflow.store.installation import sample_data
    from workflow.web import create_app

    store = runtime.store
    # given a database one migration behind (upgraded software, `ruhrflow init` not run)
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0009_sessions")
    # when this version reads what the newer migration added
    # then one line says what to do, on both backends, instead of a driver traceback
    with pytest.raises(StoreUnavailable) as refused, store.read() as conn:
        sample_data(conn)
    assert str(refused.value) == (
        "the database schema is older than this version of ruhrflow:"
        " run `ruhrflow init` to upgrade it"
    )
    with pytest.raises(StoreUnavailable, match="run `ruhrflow init` to upgrade it"):
        create_app(settings, runtime=runtime)  # type: ignore[arg-type]
    upgrade(store)
    with store.read() as conn:
        assert sample_data(conn) is None


def test_a_missing_column_at_head_is_not_blamed_on_the_schema(store: Store) -> None:
    # a query naming a column no migration made is a bug: its own error, not "run init"
    with pytest.raises(Exception) as failed, store.read() as conn:
        conn.execute(text("SELECT no_such_column FROM installation"))
    assert "no_such_column" in str(failed.value) and "older" not in str(failed.value)


def test_an_empty_database_says_run_init(database_url: str) -> None:
    from sqlalchemy import create_engine

    from workflow.errors import StoreUnavailable
    from workflow.store.schema import proposals

    # given a database without the schema (the fixture's, emptied)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    store = Store.open(database_url)
    try:
        with pytest.raises(StoreUnavailable) as refused, store.read() as conn:
            conn.execute(select(proposals.c.key))
        expected = "the database has no ruhrflow schema: run `ruhrflow init` first"
        assert str(refused.value) == expected
    finally:
        store.dispose()


def test_the_numbered_migration_files_are_the_alembic_chain_in_order() -> None:
    # every command compares the database with the newest file's revision, without Alembic
    from alembic.script import ScriptDirectory

    from workflow.store.revision import alembic_config, expected_revision, shipped_revisions

    script = ScriptDirectory.from_config(alembic_config())
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert list(shipped_revisions()) == chain
    assert expected_revision() == script.get_current_head()


def test_0015_copies_each_proposals_key_into_its_deadlines(runtime: Runtime) -> None:
    from sqlalchemy.exc import IntegrityError
    from support import add_proposal, walk_to

    from workflow.store.schema import deadline_rungs, deadlines, proposals

    store, engine = runtime.store, runtime.engine
    # given deadlines with rungs, open and closed, of two proposals, in a schema before 0015
    for key in ("RK-03-01", "RK-03-02"):
        walk_to(engine, add_proposal(engine, NOW, key=key), "consultation", NOW)
    with store.read() as conn:
        rungs_before = conn.execute(select(deadline_rungs).order_by(deadline_rungs.c.id)).all()
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0014_system_lock")
    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa_inspect(conn).get_columns("deadlines")}
    assert "proposal_key" not in columns
    # when it is upgraded
    upgrade(store)
    # then every deadline carries its proposal's key, the rungs (and their deadlines' ids)
    # are as before, and a deadline without a key is refused
    with store.read() as conn:
        rows = conn.execute(
            select(deadlines.c.proposal_id, deadlines.c.proposal_key, proposals.c.key)
            .join(proposals, proposals.c.id == deadlines.c.proposal_id)
            .order_by(deadlines.c.id)
        ).all()  # fmt: skip
        rungs_after = conn.execute(select(deadline_rungs).order_by(deadline_rungs.c.id)).all()
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    assert len(rows) == 4 and all(copied == key for _, copied, key in rows), rows
    assert rungs_after == rungs_before and rungs_before
    pid = rows[0][0]
    with pytest.raises(IntegrityError, match="proposal_key"), store.write() as conn:
        conn.execute(
            deadlines.insert().values(
                proposal_id=pid, kind="x", state="x", entry_seq=99, due_at=NOW, status="open",
                created_at=NOW,
            )
        )  # fmt: skip


def _upper_lead_index(conn: Connection) -> str | None:
    """The definition of ix_proposals_upper_lead (None: there is none)."""
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    found: str | None = conn.execute(text(query), {"name": "ix_proposals_upper_lead"}).scalar()
    return found


def test_0016_gives_postgresql_the_statistics_of_upper_lead(runtime: Runtime) -> None:
    import re
    from datetime import timedelta

    from support import add_proposal

    from workflow.deadlines.queries import list_open_deadlines

    store, engine = runtime.store, runtime.engine
    # given proposals of two ministries, six of IM and two of MKW, each with an open deadline,
    # and a ministry's worklist (the lead in any case) in a schema before 0016
    for i in range(8):
        add_proposal(engine, NOW + timedelta(hours=i), key=f"RK-03-{i + 1:02d}",
                     lead="MKW" if i % 4 == 0 else "IM")  # fmt: skip
    later = NOW + timedelta(days=400)

    def worklists() -> list[list[dict[str, object]]]:
        return [
            list_open_deadlines(store, engine.machines, later, lead=lead, limit=limit)
            for lead in ("im", "MKW") for limit in (None, 3)
        ]  # fmt: skip

    before = worklists()
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0015_deadline_key")
    with store.read() as conn:
        assert _upper_lead_index(conn) is None
    # when it is upgraded
    upgrade(store)
    # then on PostgreSQL the index on upper(lead) exists and is analysed: the planner expects
    # as many proposals of a ministry as there are (without statistics: 0.5 % of them, one);
    # SQLite has none (its planner would not use it; 0017 gives it (upper(lead), lead))
    with store.read() as conn:
        found = _upper_lead_index(conn)
        if conn.dialect.name == "sqlite":
            assert found is None
        else:
            assert found is not None and "upper((lead)::text)" in found, found
            for lead, count in (("IM", 6), ("MKW", 2)):
                plan = conn.execute(
                    text("EXPLAIN SELECT id FROM proposals WHERE upper(lead) = :lead"),
                    {"lead": lead},
                ).scalars().first()  # fmt: skip
                estimate = re.search(r" rows=(\d+) ", plan or "")
                assert estimate is not None and int(estimate.group(1)) == count, plan
    # and a ministry's worklist lists the same rows
    after = worklists()
    assert after == before and all(after), after
    assert [len(rows) for rows in after] == [6, 3, 2, 2]
    # and the downgrade drops the index again
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0015_deadline_key")
    with store.read() as conn:
        assert _upper_lead_index(conn) is None
    upgrade(store)


def _index_names(conn: Connection, table: str) -> set[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :table"
    return set(conn.execute(text(query), {"table": table}).scalars())


def test_0017_orders_the_worklist_by_id_last_and_the_list_of_a_lead_by_key(
    runtime: Runtime,
) -> None:
    from datetime import timedelta

    from support import add_proposal

    from workflow.deadlines.queries import list_open_deadlines

    store, engine = runtime.store, runtime.engine
    for i in range(6):
        add_proposal(engine, NOW + timedelta(hours=i), key=f"RK-03-{i + 1:02d}",
                     lead="VM" if i % 3 == 0 else "IM")  # fmt: skip
    later = NOW + timedelta(days=400)

    def worklists() -> list[list[dict[str, object]]]:
        return [
            list_open_deadlines(store, engine.machines, later, lead=lead, limit=limit)
            for lead in (None, "vm", "IM") for limit in (None, 2)
        ]  # fmt: skip

    before = worklists()
    new = {
        "deadlines": {"ix_deadlines_status_due_at_proposal_key_id"},
        "proposals": {"ix_proposals_lead_key"},
    }
    old = {
        "deadlines": {"ix_deadlines_status_due_at_proposal_key"},
        "proposals": {"ix_proposals_lead"},
    }
    # given a schema before 0017
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0016_upper_lead")
    with store.read() as conn:
        sqlite = conn.dialect.name == "sqlite"
        for table in ("deadlines", "proposals"):
            found = _index_names(conn, table)
            assert old[table] <= found and not new[table] & found, found
        assert "ix_proposals_upper_lead_lead" not in _index_names(conn, "proposals")
    # when it is upgraded
    upgrade(store)
    # then the worklist's index ends in the id, the lead's in the key, SQLite counts a
    # ministry's proposals on (upper(lead), lead); no foreign key is left dangling
    with store.read() as conn:
        for table in ("deadlines", "proposals"):
            found = _index_names(conn, table)
            assert new[table] <= found and not old[table] & found, found
        assert ("ix_proposals_upper_lead_lead" in _index_names(conn, "proposals")) is sqlite
        if sqlite:
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    # and the worklists list the same rows
    after = worklists()
    assert after == before and all(after), after
    # and the downgrade brings the indexes of 0016 back, the upgrade those of 0017
    with store.write() as conn:
        command.downgrade(alembic_config(conn), "0016_upper_lead")
    with store.read() as conn:
        assert old["deadlines"] <= _index_names(conn, "deadlines")
        assert old["proposals"] <= _index_names(conn, "proposals")
    upgrade(store)
    assert worklists() == before
