"""Tampering as an attacker with database access would: triggers off, then raw SQL.

Every case runs on SQLite and PostgreSQL; ``audit verify`` must name the chain, the seq
and what is wrong. Some attacks leave every chain consistent (the attacker also fixes
the proposal's head): only a checkpoint written down earlier shows those.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import Connection, select, text
from support import add_proposal, attacker, walk_to

from workflow.app.runtime import open_runtime
from workflow.app.settings import Settings
from workflow.audit import take_checkpoint, verify_store
from workflow.audit.walker import Break
from workflow.engine.chain import entry_hash
from workflow.engine.engine import Engine
from workflow.store.schema import history

KEY = "RK-03-01"
OTHER = "RK-03-02"


def rows_of(conn: Connection, chain: str) -> list[dict[str, Any]]:
    stmt = select(history).where(history.c.chain == chain).order_by(history.c.seq)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def shift(conn: Connection, chain: str, from_seq: int, by: int) -> None:
    """Renumber seq >= from_seq by ``by`` (two steps: the unique index checks each row)."""
    params = {"c": chain, "s": from_seq}
    conn.execute(
        text("UPDATE history SET seq = seq + 100000 WHERE chain = :c AND seq >= :s"), params
    )
    conn.execute(
        text("UPDATE history SET seq = seq - 100000 + :by WHERE chain = :c AND seq >= :s2"),
        {"c": chain, "s2": from_seq + 100000, "by": by},
    )


def set_head(conn: Connection, chain: str) -> None:
    """Make the proposal row agree with what is left of its chain (a careful attacker:
    head, state and row version)."""
    last = rows_of(conn, chain)[-1]
    conn.execute(
        text(
            "UPDATE proposals SET history_seq = :s, history_head = :h, state = :st,"
            " row_version = :s WHERE key = :k"
        ),
        {"s": last["seq"], "h": last["hash"], "st": last["to_state"], "k": chain},
    )


@pytest.fixture
def walked(engine: Engine) -> Engine:
    """Two proposals with some history each (KEY has 8 entries: 4 statements on the way)."""
    add_proposal(engine, NOW, key=KEY)
    add_proposal(engine, NOW, key=OTHER)
    walk_to(engine, KEY, "ministry_review", NOW)
    walk_to(engine, OTHER, "consultation", NOW)
    return engine


def broken(engine: Engine, checkpoint: str | None = None, key: bytes | None = None) -> Break:
    result = verify_store(engine.store, key=key, checkpoint_digest=checkpoint)
    assert result.broken is not None, "verify found nothing"
    return result.broken


def test_an_untouched_history_verifies(walked: Engine) -> None:
    result = verify_store(walked.store, key=None)
    assert result.ok
    assert (result.entries, result.chains) == (11, 2)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("comment", "'nachträglich geändert'"),
        ("to_state", "'cabinet'"),
        ("trigger", "'approve'"),
        ("actor_ref", "'0123456789abcdef01234567'"),
        ("at", None),
        ("data", None),
    ],
)
def test_a_changed_field_is_named(
    walked: Engine, database_url: str, column: str, value: str | None
) -> None:
    with attacker(database_url) as conn:
        pg = conn.dialect.name == "postgresql"
        if column == "at":
            value = "at + interval '1 day'" if pg else "datetime(at, '+1 day')"
        if column == "data":
            value = """'{"party": "Gefälscht"}'""" + ("::jsonb" if pg else "")
        conn.execute(text(f"UPDATE history SET {column} = {value} WHERE chain = :c AND seq = 3"),
                     {"c": KEY})  # fmt: skip
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 3)
    assert "changed" in b.problem


def test_a_deleted_entry_is_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = :c AND seq = 4"), {"c": KEY})
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 4)
    assert "deleted" in b.problem


def test_a_deleted_entry_with_renumbered_rest_is_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = :c AND seq = 4"), {"c": KEY})
        shift(conn, KEY, 5, -1)
        set_head(conn, KEY)
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 4)


def test_an_entry_inserted_in_the_middle_is_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        rows = rows_of(conn, KEY)
        shift(conn, KEY, 3, +1)
        forged = {k: v for k, v in rows[1].items() if k not in ("id", "hash")}
        forged.update(seq=3, trigger="approve", prev_hash=rows[1]["hash"])
        forged["hash"] = entry_hash(forged)  # a valid hash: only the link shows the insert
        conn.execute(history.insert().values(forged))
        set_head(conn, KEY)
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 4)
    assert "inserted" in b.problem


def test_an_entry_appended_outside_ruhrflow_is_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        last = rows_of(conn, KEY)[-1]
        forged = {k: v for k, v in last.items() if k not in ("id", "hash")}
        forged.update(seq=last["seq"] + 1, trigger="approve", to_state="approved",
                      prev_hash=last["hash"])  # fmt: skip
        forged["hash"] = entry_hash(forged)
        conn.execute(history.insert().values(forged))
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 9)
    assert "appended" in b.problem


def test_swapped_entries_are_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        conn.execute(text("UPDATE history SET seq = -1 WHERE chain = :c AND seq = 2"), {"c": KEY})
        conn.execute(text("UPDATE history SET seq = 2 WHERE chain = :c AND seq = 3"), {"c": KEY})
        conn.execute(text("UPDATE history SET seq = 3 WHERE chain = :c AND seq = -1"), {"c": KEY})
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 2)
    assert "reordered" in b.problem


def test_a_cut_off_tail_is_named_by_the_proposal_head(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = :c AND seq >= 6"), {"c": KEY})
    b = broken(walked)
    assert (b.chain, b.seq) == (KEY, 5)
    assert "cut off" in b.problem


def test_a_truncated_tail_shows_against_a_checkpoint(walked: Engine, database_url: str) -> None:
    cp = take_checkpoint(walked.store, audit_key=None, actor_id="pruefung", now=NOW)
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = :c AND seq >= 6"), {"c": KEY})
        set_head(conn, KEY)
    assert verify_store(walked.store, key=None).ok  # consistent without the checkpoint …
    b = broken(walked, checkpoint=cp.digest)  # … but not against it
    assert (b.chain, b.seq) == (KEY, 5)
    assert "truncated" in b.problem and "seq 8" in b.problem


def test_a_deleted_proposal_shows_against_a_checkpoint(walked: Engine, database_url: str) -> None:
    cp = take_checkpoint(walked.store, audit_key=None, actor_id="pruefung", now=NOW)
    with attacker(database_url) as conn:
        pid = conn.execute(text("SELECT id FROM proposals WHERE key = :k"), {"k": OTHER}).scalar()
        conn.execute(
            text(
                "DELETE FROM deadline_rungs WHERE deadline_id IN"
                " (SELECT id FROM deadlines WHERE proposal_id = :p)"
            ),
            {"p": pid},
        )
        for table in ("statements", "funding", "deadlines", "outbox"):
            conn.execute(text(f"DELETE FROM {table} WHERE proposal_id = :p"), {"p": pid})
        conn.execute(text("DELETE FROM history WHERE chain = :c"), {"c": OTHER})
        conn.execute(text("DELETE FROM proposals WHERE id = :p"), {"p": pid})
    assert verify_store(walked.store, key=None).ok
    b = broken(walked, checkpoint=cp.digest)
    assert b.chain == OTHER
    assert "gone" in b.problem


def test_a_proposal_row_without_history_is_named(walked: Engine, database_url: str) -> None:
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = :c"), {"c": OTHER})
    b = broken(walked)
    assert b.chain == OTHER
    assert "no history" in b.problem


def test_a_deleted_checkpoint_entry_leaves_its_digest_unknown(
    walked: Engine, database_url: str
) -> None:
    cp = take_checkpoint(walked.store, audit_key=None, actor_id="pruefung", now=NOW)
    assert verify_store(walked.store, key=None, checkpoint_digest=cp.digest).ok
    with attacker(database_url) as conn:
        conn.execute(text("DELETE FROM history WHERE chain = '@system'"))
    b = broken(walked, checkpoint=cp.digest)
    assert b.chain == "@system"
    assert "no checkpoint" in b.problem


def test_a_rewritten_and_rehashed_chain_shows_against_a_checkpoint(
    walked: Engine, database_url: str
) -> None:
    cp = take_checkpoint(walked.store, audit_key=None, actor_id="pruefung", now=NOW)
    with attacker(database_url) as conn:  # change seq 3 and re-hash everything after it
        rows = rows_of(conn, KEY)
        prev = rows[1]["hash"]
        for row in rows[2:]:
            row.update(prev_hash=prev, comment="umgeschrieben" if row["seq"] == 3 else None)
            row["hash"] = prev = entry_hash(row)
            conn.execute(
                text("UPDATE history SET comment = :c, prev_hash = :p, hash = :h WHERE id = :i"),
                {"c": row["comment"], "p": row["prev_hash"], "h": row["hash"], "i": row["id"]},
            )
        set_head(conn, KEY)
    assert verify_store(walked.store, key=None).ok  # without a key SHA-256 can be recomputed
    b = broken(walked, checkpoint=cp.digest)
    assert (b.chain, b.seq) == (KEY, 8)
    assert "rewritten" in b.problem


def test_a_keyed_history_refuses_a_recomputed_hash_and_a_wrong_key(
    settings: Settings, database_url: str
) -> None:
    keyed = dataclasses.replace(settings, audit_key=b"geheim-2019")
    rt = open_runtime(keyed)
    try:
        engine = rt.engine
        add_proposal(engine, NOW, key=KEY)
        walk_to(engine, KEY, "proposed", NOW)
        assert verify_store(engine.store, key=b"geheim-2019").ok
        wrong = broken(engine, key=b"falsch")
        assert (wrong.chain, wrong.seq) == (KEY, 1)
        assert "audit key" in wrong.problem
        assert broken(engine, key=None).seq == 1
        with attacker(database_url) as conn:
            row = rows_of(conn, KEY)[1]
            row["comment"] = "gefälscht"
            conn.execute(
                text("UPDATE history SET comment = :c, hash = :h WHERE id = :i"),
                {"c": row["comment"], "h": entry_hash(row), "i": row["id"]},
            )
            set_head(conn, KEY)
        b = broken(engine, key=b"geheim-2019")
        assert (b.chain, b.seq) == (KEY, 2)
        assert "without the audit key" in b.problem
    finally:
        rt.close()
