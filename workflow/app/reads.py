"""What a proposal looks like to its readers: the rows the CLI prints as JSON and the web API
returns, defined once for both (``proposal list/show``, ``triggers``, ``history``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workflow.engine.records import history_of, list_proposals, proposal_detail

if TYPE_CHECKING:
    from workflow.app.runtime import Runtime
    from workflow.engine.changes import TriggerOption


def trigger_rows(options: Sequence[TriggerOption]) -> list[dict[str, Any]]:
    """The list ``triggers --format json`` prints."""
    return [
        {
            "trigger": o.trigger,
            "label": o.label,
            "target": o.target,
            "can_fire": o.can_fire,
            "blocked_by": o.blocked_by,
            "blocked_by_de": o.blocked_by_de,
            "roles": list(o.roles),
            "requires": list(o.requires),
        }
        for o in options
    ]


def history_rows(runtime: Runtime, key: str) -> list[dict[str, Any]]:
    """The list ``history --format json`` prints."""
    with runtime.store.read() as conn:
        return history_of(conn, key)


def list_rows(
    runtime: Runtime,
    *,
    state: str | None = None,
    handlungsfeld: int | None = None,
    lead: str | None = None,
    definition_version: int | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``proposal list --format json`` (shared with the web application)."""
    with runtime.store.read() as conn:
        return list_proposals(
            conn,
            state=state,
            handlungsfeld=handlungsfeld,
            lead=lead,
            definition_version=definition_version,
        )


def show_detail(runtime: Runtime, key: str) -> dict[str, Any]:
    """The object of ``proposal show --format json`` (shared with the web application)."""
    with runtime.store.read() as conn:
        return proposal_detail(conn, key)
