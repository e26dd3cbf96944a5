"""The read model of the weekly digest: every proposal's place, the transitions of a
week, the deadlines due soon — what ``workflow/notices/digest.py`` groups per ministry.

Reads only, in the caller's transaction; the rows come as mappings by column name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from workflow.process.deadline_rules import OPEN
from workflow.store.direct import Direct
from workflow.store.schema import deadlines, history, proposals

# Built once, run on SQLite's cursor (workflow/store/direct.py): a weekly digest reads these
# three (the demo makes 287 of them).
_PLACES_SELECT = select(
    proposals.c.key, proposals.c.title, proposals.c.lead, proposals.c.state,
    proposals.c.definition_id,
).order_by(proposals.c.key)  # fmt: skip
_PLACES = Direct(_PLACES_SELECT)
CHUNK = 500  # rows of every proposal's place fetched at once
_PLAIN: dict[tuple[str, str], bool] = {}  # by dialect, driver: SQLite, no column converts
_TRANSITIONS = Direct(
    select(
        history.c.chain, history.c.trigger, history.c.to_state, history.c.actor_ref,
        history.c.at, proposals.c.title, proposals.c.lead, proposals.c.definition_id,
    )
    .join(proposals, proposals.c.key == history.c.chain)
    .where(
        history.c.kind == "transition",
        history.c.at >= bindparam("start"),
        history.c.at < bindparam("end"),
    )
    .order_by(history.c.at, history.c.chain, history.c.seq)
)  # fmt: skip
_DUE = Direct(
    select(
        deadlines.c.kind, deadlines.c.due_at, proposals.c.key, proposals.c.title,
        proposals.c.lead, proposals.c.definition_id,
    )
    .join(proposals, proposals.c.id == deadlines.c.proposal_id)
    .where(
        deadlines.c.status == OPEN,
        deadlines.c.state == proposals.c.state,
        deadlines.c.due_at > bindparam("after"),
        deadlines.c.due_at < bindparam("before"),
    )
    .order_by(deadlines.c.due_at, proposals.c.key)
)  # fmt: skip


def proposal_places(conn: Connection) -> Iterator[Mapping[str, Any]]:
    """Every proposal by key as ``{"key", "title", "lead", "state", "definition_id"}``.

    The rows stream as the caller iterates (every proposal, a million as well: the digest's
    memory stays flat), on SQLite :data:`CHUNK` at a time from a cursor of their own
    (Direct's), elsewhere from SQLAlchemy's result (Direct on psycopg reuses one cursor per
    connection); the caller may read on the same connection meanwhile.
    """
    dialect = conn.dialect
    plain = _PLAIN.get((dialect.name, dialect.driver))
    if plain is None:
        plain = dialect.name == "sqlite" and all(
            c.type.dialect_impl(dialect).result_processor(dialect, None) is None
            for c in _PLACES_SELECT.selected_columns
        )
        _PLAIN[dialect.name, dialect.driver] = plain
    if not plain:  # SQLAlchemy's result: streams as it is iterated
        rows: Any = conn.execute(_PLACES_SELECT)
        yield from rows.mappings()
        return
    result = _PLACES.execute(conn, {})
    if hasattr(result, "mappings"):  # Direct gave SQLAlchemy's result (not the cursor)
        yield from result.mappings()
        return
    columns = tuple(d[0] for d in result.description)
    try:
        while rows := result.fetchmany(CHUNK):
            for row in rows:
                yield dict(zip(columns, row, strict=True))
    finally:
        result.close()


def transitions_between(
    conn: Connection, start: datetime, end: datetime
) -> list[Mapping[str, Any]]:
    """The ``transition`` entries of proposal chains recorded in [start, end), by (at,
    chain, seq), as ``{"chain", "trigger", "to_state", "actor_ref", "at", "title",
    "lead", "definition_id"}`` (the last three the proposal's)."""
    return _TRANSITIONS.mappings(conn, {"start": start, "end": end})


def deadlines_due_between(
    conn: Connection, after: datetime, before: datetime
) -> Iterator[Mapping[str, Any]]:
    """Open deadlines of the proposals' current states due in (after, before), by due time
    and key, as ``{"kind", "due_at", "key", "title", "lead", "definition_id"}``."""
    yield from _DUE.mappings(conn, {"after": after, "before": before})
