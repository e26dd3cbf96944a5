"""The hash chains read back: what verification, checkpoints, the export, the audit log
and the figures as of a day read from ``history`` (and ``actor_refs`` beside it).

Only reads, each in the caller's transaction. The long ones stream: they are executed
through :func:`workflow.store.db.stream` (a server-side cursor on PostgreSQL) so that
a history of millions of rows never sits in memory, and they hand back the rows lazily as
the caller iterates.
Writing the chains is :mod:`workflow.store.repo`'s (``insert_history``), behind the one
history writer of the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select

from workflow.store.db import AnyRow, stream
from workflow.store.schema import actor_refs, history, proposals

STREAM_BATCH = 2_000
"""Rows per fetch from a server-side cursor."""


def count_entries(conn: Connection) -> int:
    """The number of history entries of every chain together."""
    return int(conn.execute(select(func.count()).select_from(history)).scalar_one())


def chain_heads(conn: Connection) -> list[tuple[str, int, str]]:
    """The head ``(chain, last seq, last hash)`` of every chain, read in one statement,
    in no particular order."""
    last = (
        select(history.c.chain, func.max(history.c.seq).label("seq"))
        .group_by(history.c.chain)
        .subquery()
    )
    stmt = select(history.c.chain, history.c.seq, history.c.hash).join(
        last, and_(history.c.chain == last.c.chain, history.c.seq == last.c.seq)
    )
    return [(row.chain, row.seq, row.hash) for row in conn.execute(stmt)]


def checkpoint_summaries(conn: Connection, chain: str, *, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` ``checkpoint`` entries of ``chain``, newest first, as
    ``{"seq", "at", "digest", "rows", "chains", "as_of"}``.

    Only JSON paths of ``data`` are read: the heads a checkpoint covers (one per chain)
    stay in the database.
    """
    data = history.c.data
    stmt = (
        select(
            history.c.seq,
            history.c.at,
            data["digest"].as_string().label("digest"),
            data["rows"].as_integer().label("rows"),
            data["chains"].as_integer().label("chains"),
            data["as_of"].as_string().label("as_of"),
        )
        .where(history.c.chain == chain, history.c.kind == "checkpoint")
        .order_by(history.c.seq.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def checkpoint_entries(conn: Connection, chain: str) -> Iterator[RowMapping]:
    """The ``checkpoint`` entries of ``chain`` in seq order, streamed, each as
    ``{"seq", "kind", "data", "at"}`` (their heads included)."""
    stmt = (
        select(history.c.seq, history.c.kind, history.c.data, history.c.at)
        .where(history.c.chain == chain, history.c.kind == "checkpoint")
        .order_by(history.c.seq)
    )
    yield from stream(conn, stmt, yield_per=50).mappings()


def newest_entries_of_kind(
    conn: Connection, chain: str, kind: str, *, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` entries of ``kind`` on ``chain``, newest first, each as
    ``{"seq", "at", "data"}`` (``data`` a dict, empty when null)."""
    stmt = (
        select(history.c.seq, history.c.at, history.c.data)
        .where(history.c.chain == chain, history.c.kind == kind)
        .order_by(history.c.seq.desc())
        .limit(limit)
    )
    return [{"seq": int(r.seq), "at": r.at, "data": dict(r.data or {})} for r in conn.execute(stmt)]


_ROWS = (
    select(
        history.c.chain,
        history.c.seq,
        history.c.kind,
        history.c.trigger,
        history.c.from_state,
        history.c.to_state,
        history.c.actor_ref,
        history.c.comment,
        history.c.data,
        history.c.at,
        history.c.prev_hash,
        history.c.hash,
        proposals.c.key.label("p_key"),
        proposals.c.history_seq.label("p_seq"),
        proposals.c.history_head.label("p_head"),
        proposals.c.state.label("p_state"),
        proposals.c.row_version.label("p_version"),
        history.c.recorded_at,
    )
    .select_from(history.outerjoin(proposals, proposals.c.key == history.c.chain))
    .order_by(history.c.chain, history.c.seq)
)


def entries_with_heads(conn: Connection) -> Iterator[RowMapping]:
    """Every history row ordered by (chain, seq), streamed, with its proposal's head as
    ``p_key``, ``p_seq``, ``p_head``, ``p_state``, ``p_version`` (None for a chain
    without a proposal row: the system chain, or a proposal deleted)."""
    yield from stream(conn, _ROWS, yield_per=STREAM_BATCH).mappings()


_RAW_SQL = (
    "SELECT h.chain, h.seq, h.kind, h.trigger, h.from_state, h.to_state, h.actor_ref,"
    " h.comment, h.data, h.at, h.prev_hash, h.hash, p.key, p.history_seq, p.history_head,"
    " h.recorded_at, p.state, p.row_version"
    " FROM history h LEFT OUTER JOIN proposals p ON p.key = h.chain"
    " ORDER BY h.chain, h.seq"
)


def raw_entries_with_heads(conn: Connection) -> Iterator[Sequence[Any]]:
    """The rows of :func:`entries_with_heads` as the driver hands them back, in
    partitions of :data:`STREAM_BATCH` tuples ``(chain, seq, kind, trigger, from_state,
    to_state, actor_ref, comment, data, at, prev_hash, hash, p_key, p_seq, p_head,
    recorded_at, p_state, p_version)``.

    No SQLAlchemy type processing (the speed of ``audit verify``): on SQLite ``data`` is
    JSON text and ``at``/``recorded_at`` are text; on PostgreSQL the driver's types.
    """
    yield from stream(conn, _RAW_SQL, yield_per=STREAM_BATCH).partitions(STREAM_BATCH)


def first_proposal_without_history(conn: Connection) -> AnyRow | None:
    """The first proposal (by key) that has no history entry at all, as ``(key,
    history_seq)``, or None."""
    return conn.execute(
        select(proposals.c.key, proposals.c.history_seq)
        .where(~select(history.c.id).where(history.c.chain == proposals.c.key).exists())
        .order_by(proposals.c.key)
        .limit(1)
    ).first()


def actor_refs_with_salts(conn: Connection) -> Sequence[AnyRow]:
    """Every actor ref as ``(ref, actor_id, salt)``, by ref."""
    return conn.execute(
        select(actor_refs.c.ref, actor_refs.c.actor_id, actor_refs.c.salt).order_by(
            actor_refs.c.ref
        )
    ).all()


def first_entry_of_ref(conn: Connection, ref: str) -> AnyRow | None:
    """The first entry (by chain, seq) made under ``ref``, as ``(chain, seq)``, or None."""
    return conn.execute(
        select(history.c.chain, history.c.seq)
        .where(history.c.actor_ref == ref)
        .order_by(history.c.chain, history.c.seq)
        .limit(1)
    ).first()


def entries_with_actors(conn: Connection) -> Iterator[RowMapping]:
    """Every history row ordered by (chain, seq), streamed, with the ``actor_id`` and
    ``salt`` behind its ref (None when the ref has no row)."""
    stmt = (
        select(history, actor_refs.c.actor_id, actor_refs.c.salt)
        .select_from(history.outerjoin(actor_refs, actor_refs.c.ref == history.c.actor_ref))
        .order_by(history.c.chain, history.c.seq)
    )
    yield from stream(conn, stmt, yield_per=STREAM_BATCH).mappings()


def log_entries(
    conn: Connection,
    *,
    chain: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    trigger: str | None = None,
    kind: str | None = None,
    newest_first: bool = False,
    offset: int = 0,
    limit: int | None = None,
) -> Iterator[RowMapping]:
    """History rows with the ``actor_id`` behind their ref, matching every filter given,
    streamed: one ``chain`` by seq, or all by (at, chain, seq) — reversed when
    ``newest_first``; ``since`` inclusive, ``until`` exclusive; ``actor`` matches the id
    behind the ref (a pseudonym after an erasure), ``trigger`` the trigger, ``kind`` the
    entry's kind. ``offset`` and ``limit`` cut a page out of that order."""
    stmt = select(history, actor_refs.c.actor_id).select_from(
        history.outerjoin(actor_refs, actor_refs.c.ref == history.c.actor_ref)
    )
    if chain is not None:
        stmt = stmt.where(history.c.chain == chain)
        order = [history.c.seq]
    else:
        order = [history.c.at, history.c.chain, history.c.seq]
    stmt = stmt.order_by(*(c.desc() for c in order) if newest_first else order)
    if kind is not None:
        stmt = stmt.where(history.c.kind == kind)
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    if since is not None:
        stmt = stmt.where(history.c.at >= since)
    if until is not None:
        stmt = stmt.where(history.c.at < until)
    if actor is not None:
        stmt = stmt.where(actor_refs.c.actor_id == actor)
    if trigger is not None:
        stmt = stmt.where(history.c.trigger == trigger)
    yield from stream(conn, stmt, yield_per=STREAM_BATCH).mappings()


def proposal_chain_entries(conn: Connection, *, except_prefix: str) -> Iterator[AnyRow]:
    """The entries of every chain whose name does not start with ``except_prefix``, by
    (chain, seq), streamed, as ``(chain, seq, trigger, from_state, to_state, data, at,
    hash)``."""
    stmt = (
        select(
            history.c.chain,
            history.c.seq,
            history.c.trigger,
            history.c.from_state,
            history.c.to_state,
            history.c.data,
            history.c.at,
            history.c.hash,
        )
        .where(history.c.chain.not_like(f"{except_prefix}%"))
        .order_by(history.c.chain, history.c.seq)
    )
    yield from stream(conn, stmt, yield_per=STREAM_BATCH)


def entry_times(conn: Connection) -> Iterator[AnyRow]:
    """Every entry of every chain by (chain, seq), streamed, as ``(chain, seq, at, hash)``."""
    stmt = select(history.c.chain, history.c.seq, history.c.at, history.c.hash).order_by(
        history.c.chain, history.c.seq
    )
    yield from stream(conn, stmt, yield_per=STREAM_BATCH)
