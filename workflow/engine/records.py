"""Read models: what the CLI and reports show. Reads only, no engine logic."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from workflow.errors import InvalidInput, UnknownProposal
from workflow.store import guards, records, repo
from workflow.store.db import Connection


def proposal_summary(
    row: Mapping[Any, Any], versions: Mapping[int, tuple[int, str]] | None = None
) -> dict[str, Any]:
    """The public fields of a proposal row, JSON-safe; with ``versions`` (the registered
    definitions' (version, content hash) by id) also its definition version and hash."""
    summary = {
        "key": row["key"],
        "title": row["title"],
        "state": row["state"],
        "handlungsfeld": row["handlungsfeld"],
        "themenforum": row["themenforum"],
        "lead": row["lead"],
        "participating": list(row["participating"] or []),
        "cost_estimate": _number(row["cost_estimate"]),
        "version": row["row_version"],
        "definition_id": row["definition_id"],
        "state_entered_at": row["state_entered_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
    if versions is not None:
        version, content_hash = versions.get(row["definition_id"], (None, None))
        summary["definition_version"] = version
        summary["definition_hash"] = content_hash
    return summary


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def list_proposals(
    conn: Connection,
    *,
    state: str | None = None,
    handlungsfeld: int | None = None,
    lead: str | None = None,
    definition_version: int | None = None,
) -> list[dict[str, Any]]:
    """Proposals matching every given filter, ordered by key."""
    versions = repo.definition_versions(conn)
    ids: list[int] | None = None
    if definition_version is not None:
        ids = [i for i, (v, _) in versions.items() if v == definition_version]
        if not ids:
            known = ", ".join(str(v) for v, _ in sorted(versions.values()))
            raise InvalidInput(
                f"unknown definition version {definition_version} (registered: {known})"
            )
    rows = records.proposals_where(
        conn, definition_ids=ids, state=state, handlungsfeld=handlungsfeld, lead=lead
    )
    return [proposal_summary(r, versions) for r in rows]


def proposal_detail(conn: Connection, key: str) -> dict[str, Any]:
    """One proposal with its statements, funding and data."""
    row = repo.load_proposal(conn, key)
    if row is None:
        raise UnknownProposal(key)
    detail = proposal_summary(row, repo.definition_versions(conn))
    detail["summary"] = row["summary"]
    detail["data"] = dict(row["data"])
    detail["statements"] = [
        {
            "id": s["id"],
            "party": s["party"],
            "group": s["party_group"],
            "position": s["position"],
            "text": s["text"],
            "received_at": s["received_at"].isoformat(),
        }
        for s in records.statements_of(conn, row["id"])
    ]
    detail["funding"] = [
        {
            "source": f["source"],
            "amount": _number(f["amount"]),
            "year": f["year"],
            "status": f["status"],
        }
        for f in records.funding_of(conn, row["id"])
    ]
    detail["funding_secured"] = _number(guards.secured_funding(conn, row["id"]))
    return detail


def history_of(conn: Connection, key: str) -> list[dict[str, Any]]:
    """The history of one proposal, oldest first, with actors resolved."""
    if repo.load_proposal(conn, key) is None:
        raise UnknownProposal(key)
    rows = records.chain_entries(conn, key)
    actors = repo.actor_ids(conn, (r["actor_ref"] for r in rows))
    return [history_entry(r, actors) for r in rows]


def history_entry(row: Mapping[Any, Any], actors: Mapping[str, str]) -> dict[str, Any]:
    """One history row, JSON-safe, with the actor behind its ref."""
    return {
        "key": row["chain"],
        "seq": row["seq"],
        "kind": row["kind"],
        "trigger": row["trigger"],
        "from_state": row["from_state"],
        "to_state": row["to_state"],
        "actor": actors.get(row["actor_ref"], row["actor_ref"]),
        "at": row["at"].isoformat(),
        # the database's own time of the insert (None before migration 0006)
        "recorded_at": row["recorded_at"].isoformat() if row["recorded_at"] else None,
        "comment": row["comment"],
        "data": row["data"],
        "hash": row["hash"],
    }
