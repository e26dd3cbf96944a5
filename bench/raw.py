"""The physical limit: the engine's statements through plain ``sqlite3``, nothing else.

Same PRAGMAs (WAL, synchronous=FULL), same ``BEGIN IMMEDIATE`` per transaction, same
SELECT/UPDATE/INSERT, same canonical-JSON SHA-256 (``workflow.engine.chain.entry_hash``) — but
no SQLAlchemy, no state machine, no policy, no effect code.

The rows our transition effects write (deadlines, reminder rungs, outbox notices) are
mirrored in ONE place, ``EffectMirror``: after our side has run, it looks at what our
effects wrote per transition and the baseline inserts the same number of rows of the same
shape into the same tables (and closes open deadlines when ours did). With no effects on
main it adds nothing. The lead may replace the observation with explicit statements once
the effects are final; nothing else in the baselines needs to change.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.support import HISTORY_INSERT, canonical_json, sqlite_time

PROPOSAL_COLUMNS = (
    "id",
    "key",
    "title",
    "summary",
    "handlungsfeld",
    "themenforum",
    "lead",
    "participating",
    "cost_estimate",
    "state",
    "definition_id",
    "row_version",
    "state_entered_at",
    "created_at",
    "updated_at",
    "data",
    "history_seq",
    "history_head",
)
SELECT_BY_KEY = f"SELECT {', '.join(PROPOSAL_COLUMNS)} FROM proposals WHERE key = ?"
SELECT_BY_STATE = f"SELECT {', '.join(PROPOSAL_COLUMNS)} FROM proposals WHERE state = ? ORDER BY id"
UPDATE_PROPOSAL = (
    "UPDATE proposals SET state = ?, row_version = ?, state_entered_at = ?, updated_at = ?,"
    " data = ?, history_seq = ?, history_head = ? WHERE id = ? AND row_version = ?"
)
_I = {name: i for i, name in enumerate(PROPOSAL_COLUMNS)}

EFFECT_TABLES = ("deadlines", "deadline_rungs", "outbox")


@dataclass
class EffectMirror:
    """The rows our effects wrote for one transition, to be written again by the baseline."""

    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    closes_deadlines: bool = False
    closed_status: str = "closed"

    @staticmethod
    def counts(path: Path) -> dict[str, int]:
        """Row counts of the effect tables (call before our side runs)."""
        conn = sqlite3.connect(path)
        try:
            result = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in EFFECT_TABLES
            }
            result["closed"] = conn.execute(
                "SELECT count(*) FROM deadlines WHERE closed_at IS NOT NULL"
            ).fetchone()[0]
            return result
        finally:
            conn.close()

    @classmethod
    def observe(cls, path: Path, before: Mapping[str, int], proposal_id: int) -> EffectMirror:
        """What our effects wrote for ``proposal_id``'s last transition (ours already ran)."""
        after = cls.counts(path)
        mirror = cls()
        if (
            all(after[t] == before[t] for t in EFFECT_TABLES)
            and after["closed"] == before["closed"]
        ):
            return mirror
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        try:
            mirror.closes_deadlines = after["closed"] > before["closed"]
            if mirror.closes_deadlines:
                row = conn.execute(
                    "SELECT status FROM deadlines WHERE closed_at IS NOT NULL LIMIT 1"
                ).fetchone()
                mirror.closed_status = row["status"]
            if after["deadlines"] > before["deadlines"]:
                (newest,) = conn.execute(
                    "SELECT max(created_at) FROM deadlines WHERE proposal_id = ?", (proposal_id,)
                ).fetchone()
                deadline_rows = conn.execute(
                    "SELECT * FROM deadlines WHERE proposal_id = ? AND created_at = ?",
                    (proposal_id, newest),
                ).fetchall()
                mirror.templates["deadlines"] = [dict(r) for r in deadline_rows]
                ids = [r["id"] for r in deadline_rows]
                marks = ",".join("?" * len(ids))
                rungs = conn.execute(
                    f"SELECT * FROM deadline_rungs WHERE deadline_id IN ({marks})",
                    ids,
                ).fetchall()
                mirror.templates["deadline_rungs"] = [dict(r) for r in rungs]
            if after["outbox"] > before["outbox"]:
                (newest,) = conn.execute(
                    "SELECT max(created_at) FROM outbox WHERE proposal_id = ?", (proposal_id,)
                ).fetchone()
                notices = conn.execute(
                    "SELECT * FROM outbox WHERE proposal_id = ? AND created_at = ?",
                    (proposal_id, newest),
                ).fetchall()
                mirror.templates["outbox"] = [dict(r) for r in notices]
        finally:
            conn.close()
        return mirror

    @property
    def empty(self) -> bool:
        return not self.templates and not self.closes_deadlines

    def describe(self) -> str:
        """For the printed note: what the baseline mirrors per transition."""
        if self.empty:
            return "no effect rows on main"
        parts = [f"{len(rows)} {table}" for table, rows in self.templates.items() if rows]
        if self.closes_deadlines:
            parts.insert(0, "close deadlines")
        return "mirrors per transition: " + ", ".join(parts)

    def apply(
        self,
        conn: sqlite3.Connection,
        items: Sequence[tuple[int, int]],
        now: datetime,
        next_ids: dict[str, int],
    ) -> None:
        """Write the mirrored rows for each (proposal_id, seq) in ``items`` (one transaction)."""
        if self.empty:
            return
        at = sqlite_time(now)
        if self.closes_deadlines:
            conn.executemany(
                "UPDATE deadlines SET status = ?, closed_at = ? WHERE proposal_id = ?"
                " AND status = 'open'",
                [(self.closed_status, at, pid) for pid, _ in items],
            )
            # and their pending rungs, as the deadline effect cancels them
            conn.executemany(
                "UPDATE deadline_rungs SET cancelled_at = ? WHERE fired_at IS NULL"
                " AND cancelled_at IS NULL AND deadline_id IN (SELECT id FROM deadlines"
                " WHERE proposal_id = ? AND status = ? AND closed_at = ?)",
                [(at, pid, self.closed_status, at) for pid, _ in items],
            )
        deadline_rows: list[dict[str, Any]] = []
        rung_rows: list[dict[str, Any]] = []
        notice_rows: list[dict[str, Any]] = []
        for pid, seq in items:
            id_map: dict[int, int] = {}
            for tpl in self.templates.get("deadlines", ()):
                new_id = next_ids["deadlines"] = next_ids["deadlines"] + 1
                id_map[tpl["id"]] = new_id
                deadline_rows.append(
                    {**tpl, "id": new_id, "proposal_id": pid, "entry_seq": seq, "created_at": at}
                )
            for tpl in self.templates.get("deadline_rungs", ()):
                new_id = next_ids["deadline_rungs"] = next_ids["deadline_rungs"] + 1
                rung_rows.append({**tpl, "id": new_id, "deadline_id": id_map[tpl["deadline_id"]]})
            for tpl in self.templates.get("outbox", ()):
                new_id = next_ids["outbox"] = next_ids["outbox"] + 1
                unique = f"{tpl['idempotency_key']}:{pid}:{seq}"
                notice_rows.append(
                    {
                        **tpl,
                        "id": new_id,
                        "proposal_id": pid,
                        "idempotency_key": unique,
                        "message_id": f"{tpl['message_id']}.{pid}.{seq}",
                        "created_at": at,
                    }
                )
        for table, rows in (
            ("deadlines", deadline_rows),
            ("deadline_rungs", rung_rows),
            ("outbox", notice_rows),
        ):
            if rows:
                names = list(rows[0])
                conn.executemany(
                    f"INSERT INTO {table} ({', '.join(names)})"
                    f" VALUES ({', '.join(':' + n for n in names)})",
                    rows,
                )

    def start_ids(self, conn: sqlite3.Connection) -> dict[str, int]:
        """The next free ids of the effect tables (rows are inserted with explicit ids)."""
        if self.empty:
            return {}
        return {
            t: conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
            for t in EFFECT_TABLES
        }


def _entry(
    row: Sequence[Any],
    trigger: str,
    to_state: str,
    ref: str,
    comment: str | None,
    fields: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "chain": row[_I["key"]],
        "seq": row[_I["history_seq"]] + 1,
        "kind": "transition",
        "trigger": trigger,
        "from_state": row[_I["state"]],
        "to_state": to_state,
        "actor_ref": ref,
        "comment": comment,
        "data": {"fields": dict(fields)} if fields else {},
        "at": now,
        "prev_hash": row[_I["history_head"]],
    }


def _writes(
    row: Sequence[Any], entry: dict[str, Any], digest: str, fields: Mapping[str, Any], at: str
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    data = {**json.loads(row[_I["data"]]), **fields}
    entered = at if entry["to_state"] != row[_I["state"]] else row[_I["state_entered_at"]]
    update = (
        entry["to_state"],
        row[_I["row_version"]] + 1,
        entered,
        at,
        canonical_json(data),
        entry["seq"],
        digest,
        row[_I["id"]],
        row[_I["row_version"]],
    )
    insert = (
        entry["chain"],
        entry["seq"],
        entry["kind"],
        entry["trigger"],
        entry["from_state"],
        entry["to_state"],
        entry["actor_ref"],
        entry["comment"],
        canonical_json(entry["data"]),
        at,
        entry["prev_hash"],
        digest,
    )
    return update, insert


def advance_one(
    conn: sqlite3.Connection,
    key: str,
    trigger: str,
    to_state: str,
    *,
    ref: str,
    now: datetime,
    fields: Mapping[str, Any],
    comment: str | None = None,
    mirror: EffectMirror,
    next_ids: dict[str, int],
) -> None:
    """One durable transition in its own transaction, as the engine writes it."""
    from workflow.engine.chain import entry_hash

    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(SELECT_BY_KEY, (key,)).fetchone()
        entry = _entry(row, trigger, to_state, ref, comment, fields, now)
        digest = entry_hash(entry)
        update, insert = _writes(row, entry, digest, fields, sqlite_time(now))
        if conn.execute(UPDATE_PROPOSAL, update).rowcount != 1:
            raise RuntimeError(f"raw baseline: {key} changed underneath")
        conn.execute(HISTORY_INSERT, insert)
        mirror.apply(conn, [(row[_I["id"]], entry["seq"])], now, next_ids)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def advance_state(
    conn: sqlite3.Connection,
    state: str,
    trigger: str,
    to_state: str,
    *,
    ref: str,
    now: datetime,
    fields: Mapping[str, Any],
    comment: str | None = None,
    mirror: EffectMirror,
) -> int:
    """Every proposal in ``state`` in one transaction with ``executemany``; returns the count."""
    from workflow.engine.chain import entry_hash

    at = sqlite_time(now)
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(SELECT_BY_STATE, (state,)).fetchall()
        updates, inserts, items = [], [], []
        for row in rows:
            entry = _entry(row, trigger, to_state, ref, comment, fields, now)
            digest = entry_hash(entry)
            update, insert = _writes(row, entry, digest, fields, at)
            updates.append(update)
            inserts.append(insert)
            items.append((row[_I["id"]], entry["seq"]))
        matched = conn.executemany(UPDATE_PROPOSAL, updates).rowcount
        if matched != len(updates):
            raise RuntimeError("raw baseline: rows changed underneath")
        conn.executemany(HISTORY_INSERT, inserts)
        mirror.apply(conn, items, now, mirror.start_ids(conn))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(rows)
