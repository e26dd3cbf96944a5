"""The fast verify path builds exactly the bytes ``workflow.engine.chain.canonical_bytes`` hashes.

``audit verify`` reads history through the driver (no column types, no mapping per row)
and assembles the canonical JSON itself. One byte of difference would make every chain
look tampered with (or worse, hide a change), so these tests put awkward entries into the
store through the engine and compare, row by row, with the bytes of the typed read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import NOW
from support import add_proposal

from workflow.app.runtime import Runtime
from workflow.audit.raw_rows import _sqlite_time, raw_entries
from workflow.audit.verify import stream_rows, verify_store
from workflow.engine.chain import canonical_bytes, format_time
from workflow.engine.engine import Engine
from workflow.store import repo
from workflow.store.db import Store

AWKWARD_DATA = [
    {},
    {"text": "Größenordnung: Ökologie, Übergänge, Maß – „Anführung“ … 😀"},
    {"nested": {"z": [1, 2.5, None, True, False, {"ä": "ö", "a": []}], "a": {"b": {"c": "ß"}}}},
    {"quotes": 'say "hi" \\ back\\slash\n\ttab\u0007bell', "empty": "", "zero": 0},
    {"numbers": [0.1, 1e-7, 123456789012345678, 3.141592653589793, -17]},
    {"Schlüssel mit Umlaut": None, "1": "eins", "B": 2, "a": 1},
]
COMMENTS = [None, "Kommentar mit Ümläuten: äöüß ÄÖÜ", 'Anführung "zitiert" und \\', "", "\u2028"]
MICROSECONDS = [0, 1, 999_999, 123_456, 500_000, 10]


def _awkward_history(engine: Engine) -> list[str]:
    keys = [add_proposal(engine, NOW, title=f"Vorhaben Nr. {i} – Überörtlich") for i in range(3)]
    at = NOW
    with engine.store.write() as conn:
        for i, data in enumerate(AWKWARD_DATA * 2):
            key = keys[i % len(keys)]
            row = repo.load_proposal(conn, key)
            assert row is not None
            at = at + timedelta(seconds=17, microseconds=MICROSECONDS[i % len(MICROSECONDS)])
            engine.append_event(
                conn,
                row,
                kind="note",
                trigger="bench_note",
                actor="koordination",
                now=at,
                data=data,
                comment=COMMENTS[i % len(COMMENTS)],
            )
    return keys


def test_raw_entries_are_byte_identical_to_canonical_bytes(engine: Engine, store: Store) -> None:
    # given history with umlauts, None, nested JSON, odd numbers and microsecond times
    _awkward_history(engine)
    # when the fast path and the typed read both walk the history
    with store.read() as conn:
        typed = list(stream_rows(conn))
        fast = list(raw_entries(conn))
    # then every row yields the same canonical bytes, in the same order
    assert len(fast) == len(typed) > len(AWKWARD_DATA) * 2
    for row, (
        chain, seq, prev, digest, payload, p_key, p_seq, p_head, to_state, recorded_at,
        p_state, p_version,
    ) in zip(typed, fast, strict=True):  # fmt: skip
        assert (chain, seq, prev, digest) == (
            row["chain"],
            row["seq"],
            row["prev_hash"],
            row["hash"],
        )
        assert (p_key, p_seq, p_head) == (row["p_key"], row["p_seq"], row["p_head"])
        assert (to_state, p_state, p_version) == (row["to_state"], row["p_state"], row["p_version"])
        assert recorded_at is not None and row["recorded_at"] is not None
        if isinstance(recorded_at, str):  # SQLite: the column default's text, milliseconds
            assert recorded_at == row["recorded_at"].strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
        else:
            assert recorded_at == row["recorded_at"]
        assert payload == canonical_bytes(row), (chain, seq)
    # and verify accepts the chains
    result = verify_store(store, key=None)
    assert result.ok, result.broken
    assert result.entries == len(typed)


def test_fast_path_still_finds_a_change_in_awkward_data(runtime: Runtime, store: Store) -> None:
    # given awkward history, verified with a key
    key = b"pruef-schluessel"
    engine = Engine(store, runtime.directory, audit_key=key)
    keys = _awkward_history(engine)
    assert verify_store(store, key=key).ok
    # when one umlaut in one stored comment differs from what was hashed
    with store.write() as conn:
        if conn.dialect.name == "postgresql":  # the append-only trigger guards history
            conn.exec_driver_sql("ALTER TABLE history DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS history_no_update")
        conn.exec_driver_sql(
            "UPDATE history SET comment = 'Kommentar mit Umlauten: äöüß ÄÖÜ'"
            " WHERE comment = 'Kommentar mit Ümläuten: äöüß ÄÖÜ'"
        )
    # then verify names a changed entry
    result = verify_store(store, key=key)
    assert result.broken is not None
    assert result.broken.chain in keys
    assert "changed after it was written" in result.broken.problem


def test_sqlite_time_text_matches_format_time() -> None:
    # given times as SQLite stores them (naive UTC text) and in other spellings
    base = datetime(2019, 3, 31, 0, 59, 59, tzinfo=UTC)
    moments = [base + timedelta(days=d, microseconds=u) for d in (0, 1, 200) for u in MICROSECONDS]
    moments.append(datetime(1000, 1, 1, tzinfo=UTC))
    for at in moments:
        # then the canonical text equals format_time of the typed value
        assert _sqlite_time(at.strftime("%Y-%m-%d %H:%M:%S.%f")) == format_time(at)
        assert _sqlite_time(at.strftime("%Y-%m-%d %H:%M:%S")) == format_time(
            at.replace(microsecond=0)
        )
        assert _sqlite_time(at.isoformat()) == format_time(at)
