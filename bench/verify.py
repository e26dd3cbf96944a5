"""``audit verify`` over many history rows vs a tight ``sqlite3`` loop doing the same hashing.

The baseline reads every row ordered by chain and seq, rebuilds the canonical bytes with
``workflow.engine.chain.canonical_bytes``, hashes them and checks the links — nothing else.
Ours is ``workflow.audit.verify.verify_store``, which also checks every chain's end
against the proposal row's ``history_seq``/``history_head`` (an outer join the baseline
does not do).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.datagen import long_history
from bench.support import (
    Result,
    open_runtime_for,
    progress,
    scratch_dir,
    sqlite_url,
    stopwatch,
)

SCENARIO = "audit verify"
TARGET = 1.5
COLUMNS = (
    "chain",
    "seq",
    "kind",
    "trigger",
    "from_state",
    "to_state",
    "actor_ref",
    "comment",
    "data",
    "at",
    "prev_hash",
    "hash",
)


def audit_module() -> ModuleType:
    """``workflow.audit.verify`` (imported late: the harness starts without loading the engine)."""
    return importlib.import_module("workflow.audit.verify")


def run_verify(audit: ModuleType, runtime: Any) -> Any:
    """Verify every chain as ``ruhrflow audit verify`` does (``verify_store`` with the
    configured audit key); returns the ``VerifyResult``.
    """
    return audit.verify_store(runtime.store, key=runtime.settings.audit_key)


def baseline_verify(path: Path) -> int:
    """The tight loop: read, rebuild canonical bytes, SHA-256, compare links. Returns rows."""
    from workflow.engine.chain import GENESIS, canonical_bytes

    conn = sqlite3.connect(path)
    rows = 0
    chain, prev = None, GENESIS
    try:
        cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM history ORDER BY chain, seq")
        for row in cursor:
            entry = dict(zip(COLUMNS, row, strict=True))
            if entry["chain"] != chain:
                chain, prev = entry["chain"], GENESIS
            entry["data"] = json.loads(entry["data"])
            entry["at"] = datetime.fromisoformat(entry["at"]).replace(tzinfo=UTC)
            digest = hashlib.sha256(canonical_bytes(entry)).hexdigest()
            if entry["prev_hash"] != prev or digest != entry["hash"]:
                raise RuntimeError(f"baseline: chain {chain} breaks at seq {entry['seq']}")
            prev = digest
            rows += 1
    finally:
        conn.close()
    return rows


def history_rows(quick: bool) -> int:
    return 100_000 if quick else 1_000_000


def run(quick: bool) -> list[Result]:
    n = history_rows(quick)
    name = f"{SCENARIO}: {n:,} history rows"
    audit = audit_module()
    with scratch_dir() as work:
        progress(f"{SCENARIO}: generating {n:,} rows")
        path = long_history(work, "history", n)
        progress(f"{SCENARIO}: verifying")
        with stopwatch() as t:
            rows = baseline_verify(path)
        theirs = t[0]
        rt = open_runtime_for(sqlite_url(path), work)
        try:
            with stopwatch(ours=True) as t:
                outcome = run_verify(audit, rt)
            ours = t[0]
        finally:
            rt.close()
        if not outcome.ok:  # a verify that stops early measures nothing
            raise RuntimeError(f"audit verify found a break in valid data: {outcome.broken}")
        if outcome.entries != rows:
            raise RuntimeError(f"audit verify checked {outcome.entries} rows, not {rows}")
    return [
        Result(
            name,
            ours=ours,
            baseline=theirs,
            target=TARGET,
            note=f"baseline: sqlite3 loop + canonical_bytes + sha256 over {rows:,} rows",
        ).settle()
    ]
