"""A small stand-in for ``ruhrflow audit verify`` (issue 5) used by the reliability tests.

It recomputes every history chain with ``workflow.chain.entry_hash`` and compares it
with the proposals' ``history_seq`` / ``history_head`` / ``state``. Once the audit
module is merged, ``chain_problems`` should call it instead (and the crash test should
also run ``ruhrflow audit verify`` as a subprocess).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from workflow.chain import GENESIS, HASHED_FIELDS, entry_hash
from workflow.store.schema import history, proposals


def chain_problems(conn: Connection, audit_key: bytes | None = None) -> list[str]:
    """Every inconsistency between history chains and proposal rows (empty when sound)."""
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(history).order_by(history.c.chain, history.c.seq)).mappings():
        chains[row["chain"]].append(dict(row))
    problems: list[str] = []
    seen: set[str] = set()
    for p in conn.execute(select(proposals)).mappings():
        key = p["key"]
        seen.add(key)
        entries = chains.get(key, [])
        if [e["seq"] for e in entries] != list(range(1, len(entries) + 1)):
            problems.append(f"{key}: seq not 1..n: {[e['seq'] for e in entries]}")
            continue
        if p["history_seq"] != len(entries):
            problems.append(f"{key}: history_seq {p['history_seq']} but {len(entries)} entries")
            continue
        prev = GENESIS
        for e in entries:
            if e["prev_hash"] != prev:
                problems.append(f"{key}#{e['seq']}: prev_hash does not link")
                break
            if entry_hash({f: e[f] for f in HASHED_FIELDS}, audit_key) != e["hash"]:
                problems.append(f"{key}#{e['seq']}: hash does not match the row")
                break
            prev = e["hash"]
        else:
            if p["history_head"] != prev:
                problems.append(f"{key}: history_head is not the hash of the last entry")
            if entries and entries[-1]["to_state"] != p["state"]:
                problems.append(
                    f"{key}: state {p['state']!r} but history ends in {entries[-1]['to_state']!r}"
                )
    for orphan in sorted(set(chains) - seen):
        problems.append(f"{orphan}: history without a proposal")
    return problems
