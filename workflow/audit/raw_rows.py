"""The database path of a verification: history rows as the driver hands them back.

No SQLAlchemy type processing and no mapping per row: the canonical bytes of each entry are
built from the driver's own values, byte-identical to
:func:`workflow.engine.chain.canonical_bytes` of the row as the store types read it
(tests/audit/test_verify_fast.py proves it on awkward data). SQLite hands times back as text;
they are turned into the canonical form here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from workflow.engine.chain import encode_entry, format_time
from workflow.store import chains


def _sqlite_time(text: Any) -> str:
    """The canonical text (``format_time``) of a time as SQLite hands it back.

    The store writes ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC): then the canonical text is
    the same digits with ``T`` and ``Z``. Anything else takes the way the column type
    takes (parse, naive means UTC, ``format_time``).
    """
    if (
        text.__class__ is str
        and len(text) == 26
        and text[10] == " "
        and text[19] == "."
        and text[0] != "0"
        and datetime.fromisoformat(text).tzinfo is None  # also validates the digits
    ):
        return f"{text[:10]}T{text[11:]}Z"
    at = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return format_time(at if at.tzinfo is not None else at.replace(tzinfo=UTC))


def raw_entries(conn: Any) -> Iterator[tuple[Any, ...]]:
    """Every history row ordered by (chain, seq), streamed, as ``(chain, seq, prev_hash,
    hash, canonical bytes, p_key, p_seq, p_head, to_state, recorded_at, p_state,
    p_version)`` (``recorded_at`` or None: a datetime on PostgreSQL, on SQLite the text
    ``YYYY-MM-DD HH:MM:SS.fff`` in UTC, which orders as the times do).

    The driver's own values (no SQLAlchemy type processing, no mapping per row); the
    canonical bytes are byte-identical to ``workflow.engine.chain.canonical_bytes`` of the row as
    the store types read it (tests/audit/test_verify_fast.py proves it on awkward data).
    """
    on_sqlite = conn.dialect.name == "sqlite"
    loads = json.loads
    for part in chains.raw_entries_with_heads(conn):
        for row in part:
            (
                chain, seq, kind, trig, src, dst, ref, comment, data, at, prev, digest, pk, ps, ph,
                recorded, p_state, p_version,
            ) = row  # fmt: skip
            if on_sqlite:
                at_text = _sqlite_time(at)
                if data is not None:
                    data = loads(data)
                if recorded is not None and (
                    recorded.__class__ is not str or len(recorded) != 23 or recorded[10] != " "
                ):
                    recorded = _sqlite_recorded(recorded)
            else:
                at_text = format_time(at)
            payload = encode_entry(
                chain, seq, kind, trig, src, dst, ref, comment, data, at_text, prev
            )
            yield chain, seq, prev, digest, payload, pk, ps, ph, dst, recorded, p_state, p_version


def _sqlite_recorded(value: Any) -> str:
    """``recorded_at`` as SQLite's column default writes it (``YYYY-MM-DD HH:MM:SS.fff``,
    UTC), which compares as text: the form of every row ruhrflow writes, so only other
    forms are parsed here (cut to milliseconds: an earlier time never becomes a later one)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
