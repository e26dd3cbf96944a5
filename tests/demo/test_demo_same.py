"""The demo's one-run shortcuts change nothing it writes (#29: the demo in seconds).

``run_demo`` leaves out what only a real, long-lived process needs: an fsync per commit and per
mail, and setting delivery up again before each pass (workflow/demo/run.py). Given the round
played both ways — ``plain=True`` builds the scheduler's hooks and commits exactly as
``scheduler tick`` does — then the databases hold the same rows and the Maildirs the same mails.

What differs between any two runs is left out: what each installation makes at random (its id,
the salted actor refs and so the hash chain, the Message-IDs and the calendar UIDs made from
its domain, the digest of the board's checkpoint over those hashes) and the wall-clock
``recorded_at``; the Date header and the sent moments are compared, since delivery runs at
the same simulated moments.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from workflow.demo.run import run_demo

pytestmark = pytest.mark.slow

# Per installation, at random or by the wall clock; every other column is compared.
RANDOM = {
    "actor_refs": {"ref", "salt"},
    "history": {"actor_ref", "hash", "prev_hash", "recorded_at"},
    "installation": {"installation_id", "created_at"},
    "outbox": {"message_id", "calendar", "attachments"},
    "proposals": {"history_head"},
}
TABLES = ("proposals", "history", "deadlines", "deadline_rungs", "statements", "funding",
          "outbox", "actor_refs", "definitions", "installation")  # fmt: skip


def _rows(db: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor]
    for row in rows:
        for column in RANDOM.get(table, ()):
            row.pop(column)
        if table == "history":  # a notice's entry names its Message-ID
            data = json.loads(row["data"])
            data.pop("message_id", None)
            if row["kind"] == "checkpoint":  # the board's: a digest over the chain heads
                data.pop("digest")
                data["heads"] = {chain: head[0] for chain, head in data["heads"].items()}
            row["data"] = data
    return rows


def _mails(maildir: Path) -> list[str]:
    """Every mail, headers and decoded parts, without its Message-ID and calendar UID."""
    box = mailbox.Maildir(maildir, factory=None, create=False)
    mails = []
    for key in box.iterkeys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        parts: list[tuple[str, str]] = [(h, str(v)) for h, v in msg.items() if h != "Message-ID"]
        for part in msg.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
            if part.get_content_type() == "text/calendar":
                lines = text.replace("\r\n ", "").splitlines()
                text = "\n".join(line for line in lines if not line.startswith("UID:"))
            parts.append((part.get_content_type(), text))
        mails.append(repr(parts))
    return sorted(mails)


def test_the_one_run_shortcuts_write_the_same_database_and_mails(tmp_path: Path) -> None:
    plain = run_demo(tmp_path / "plain", fresh=False, progress=lambda _: None, plain=True)
    fast = run_demo(tmp_path / "fast", fresh=False, progress=lambda _: None)
    assert plain.verify_ok and fast.verify_ok
    assert fast.history_rows == plain.history_rows > 4000
    assert fast.states == plain.states
    assert fast.notices == plain.notices
    for table in TABLES:
        assert _rows(fast.database, table) == _rows(plain.database, table), table
    mails = _mails(plain.maildir)
    assert len(mails) == sum(n for kind in plain.notices.values() for n in kind.values()) > 3000
    assert _mails(fast.maildir) == mails
