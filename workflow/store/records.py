"""The read model of proposals that the CLI, the API and reports show: the list, a
proposal's statements and funding lines, its history.

Reads only, in the caller's transaction; turning rows into JSON-safe records is
``workflow/engine/records.py``'s. Writing these tables is :mod:`workflow.store.repo`'s.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, RowMapping, select

from workflow.store.proposal_list import ALL_COLUMNS, ListFilter, list_rows
from workflow.store.schema import funding, history, statements


def proposals_where(
    conn: Connection,
    *,
    definition_ids: Collection[int] | None = None,
    state: str | None = None,
    handlungsfeld: int | None = None,
    lead: str | None = None,
) -> list[RowMapping]:
    """Whole proposal rows matching every filter given, ordered by key.

    ``definition_ids`` keeps the proposals pinned to one of those definitions (an empty
    collection keeps none); ``lead`` matches the ministry's code exactly.
    """
    kept = ListFilter(
        definition_ids=definition_ids, state=state, handlungsfeld=handlungsfeld, lead=lead
    )  # the one list query of the CLI, the web and the API
    return list_rows(conn, kept, columns=ALL_COLUMNS)


def statements_of(conn: Connection, proposal_id: int) -> list[RowMapping]:
    """The statement rows of one proposal, in the order they were recorded (by id)."""
    stmt = select(statements).where(statements.c.proposal_id == proposal_id)
    return list(conn.execute(stmt.order_by(statements.c.id)).mappings())


def funding_of(conn: Connection, proposal_id: int) -> list[RowMapping]:
    """The funding rows of one proposal, in the order they were recorded (by id)."""
    stmt = select(funding).where(funding.c.proposal_id == proposal_id).order_by(funding.c.id)
    return list(conn.execute(stmt).mappings())


def chain_entries(conn: Connection, chain: str) -> list[RowMapping]:
    """Every history row of ``chain`` (a proposal's key), oldest first (by seq)."""
    stmt = select(history).where(history.c.chain == chain).order_by(history.c.seq)
    return list(conn.execute(stmt).mappings())
