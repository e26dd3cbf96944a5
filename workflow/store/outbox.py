"""The SQL of the outbox: inserting notices once per key, claiming and marking them for
delivery, and the operator's reads and retries.

Inserting a key that exists is a no-op (``INSERT … ON CONFLICT DO NOTHING`` on both
dialects). Many notices go in one executemany, on SQLite through the cursor
(:class:`~workflow.store.direct.Direct`). The JSON columns of an inserted row
(:data:`ENCODED`) come as JSON text, encoded once by the caller: the same text SQLAlchemy's
JSON type would write (``json.dumps``; ``"null"`` for none), stored as it is on SQLite and
cast to ``jsonb`` on PostgreSQL — no second ``json.dumps`` per column.

Statuses: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed until
``lease_until``) → ``sent`` | back to ``pending`` (retry) | ``failed`` (with ``last_error``).
Every function runs in the caller's transaction; the delivery worker
(``workflow/notices/delivery.py``) decides what to write, these functions only write it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

from workflow.store.direct import Direct
from workflow.store.schema import outbox, proposals

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)

ENCODED = ("recipients", "context", "calendar")
"""The JSON columns an inserted row gives as JSON text (``json.dumps`` of the value)."""


@cache
def _inserts(dialect: str) -> tuple[Any, Any]:
    """The INSERT … ON CONFLICT DO NOTHING of one row (returning its id) and of many rows.

    Built once per dialect, the values come as parameters: building the statement per notice
    cost more than running it. Each dialect's own ``insert`` is imported when that dialect is
    first used: importing PostgreSQL's loads all of its drivers, which a command on SQLite
    never needs (a twentieth of its start).
    """
    skip: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        as_jsonb = {n: cast(bindparam(n, type_=Text), postgresql.JSONB) for n in ENCODED}
        skip = postgresql.insert(outbox).values(as_jsonb)
    else:
        from sqlalchemy.dialects import sqlite

        skip = sqlite.insert(outbox).values({n: bindparam(n, type_=Text) for n in ENCODED})
    skip = skip.on_conflict_do_nothing(index_elements=[outbox.c.idempotency_key])
    one = skip.returning(outbox.c.id)
    # PostgreSQL: one row on psycopg's cursor (Direct), many rows through SQLAlchemy's
    # executemany (its INSERT batching)
    return (Direct(one) if dialect == "postgresql" else one), Direct(skip)


def insert_notice(conn: Connection, row: Mapping[str, Any]) -> int | None:
    """Insert one outbox row (its :data:`ENCODED` columns as JSON text); its id, or None
    when its idempotency key exists already."""
    one, _ = _inserts(conn.dialect.name)
    if isinstance(one, Direct):
        found = one.all(conn, row)
        if len(found) > 1:
            raise RuntimeError(f"one notice inserted as {len(found)} rows")
        new_id = found[0][0] if found else None
    else:
        new_id = conn.execute(one, dict(row)).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def insert_notices(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert outbox rows (their :data:`ENCODED` columns as JSON text) in one statement;
    keys that exist already are skipped."""
    if not rows:
        return
    _, many = _inserts(conn.dialect.name)
    many.executemany(conn, rows)


# --- delivery: claim and mark ------------------------------------------------------------------

# Built once: constructing these per notice cost more than running them. CLAIMABLE and CLAIM
# are the demo's delivery pass's too (workflow/store/demo.py: every due notice at once).
CLAIMABLE = or_(
    and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= bindparam("now")),
    and_(outbox.c.status == SENDING, outbox.c.lease_until <= bindparam("now")),
)
_NEXT_DUE = select(outbox).where(CLAIMABLE).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(1)
_NEXT_DUE_SKIP_LOCKED = _NEXT_DUE.with_for_update(skip_locked=True)
CLAIM = (
    update(outbox)
    .where(outbox.c.id == bindparam("notice_id"), CLAIMABLE)
    .values(status=SENDING, lease_until=bindparam("lease_until"), attempts=outbox.c.attempts + 1)
)
_MARK = {
    status: update(outbox)
    .where(outbox.c.id == bindparam("notice_id"))
    .values({name: bindparam(name) for name in names})
    for status, names in {
        SENT: (
            "status",
            "sent_at",
            "lease_until",
            "last_error",
            "subject",
            "body_text",
            "body_html",
            "attachments",
        ),
        PENDING: ("status", "lease_until", "last_error", "next_attempt_at"),
        FAILED: ("status", "lease_until", "last_error"),
    }.items()
}
_PROPOSAL = select(proposals).where(proposals.c.id == bindparam("proposal_id"))
_PROPOSAL_ROW = Direct(_PROPOSAL)
_PROPOSAL_LOCKED = _PROPOSAL.with_for_update()


def next_due(conn: Connection, now: datetime) -> RowMapping | None:
    """The oldest claimable notice at ``now`` (``pending`` and due, or ``sending`` with an
    expired lease), or None. PostgreSQL reads it ``FOR UPDATE SKIP LOCKED``, so concurrent
    workers see disjoint rows; SQLite's write transaction admits one worker at a time."""
    stmt = _NEXT_DUE_SKIP_LOCKED if conn.dialect.name == "postgresql" else _NEXT_DUE
    return conn.execute(stmt, {"now": now}).mappings().first()


def claim(conn: Connection, notice_id: int, now: datetime, lease_until: datetime) -> bool:
    """Set a claimable notice to ``sending`` until ``lease_until``, one attempt more; False
    when it is no longer claimable (another worker was first)."""
    claimed = conn.execute(
        CLAIM, {"notice_id": notice_id, "now": now, "lease_until": lease_until}
    ).rowcount
    return bool(claimed == 1)


def mark(conn: Connection, notice_id: int, values: Mapping[str, Any]) -> None:
    """Record the outcome of an attempt: ``values`` holds ``status`` (sent, pending or
    failed) and exactly the columns that status sets — sent: sent_at, lease_until,
    last_error, subject, body_text, body_html, attachments; pending: lease_until,
    last_error, next_attempt_at; failed: lease_until, last_error."""
    conn.execute(_MARK[values["status"]], {"notice_id": notice_id, **values})


def note_error(conn: Connection, notice_id: int, error: str) -> None:
    """Set the ``last_error`` of a notice and nothing else (a sent notice whose history entry
    could not be written keeps its status: it was sent)."""
    conn.execute(update(outbox).where(outbox.c.id == notice_id).values(last_error=error))


def proposal_of_notice(conn: Connection, proposal_id: int) -> Mapping[Any, Any]:
    """The proposal row a notice belongs to, to append the outcome to its history; locked
    ``FOR UPDATE`` on PostgreSQL (appending bumps its row version: no lost update), on
    SQLite read on the cursor. There must be exactly one (``NoResultFound`` or
    ``MultipleResultsFound`` otherwise)."""
    if conn.dialect.name == "postgresql":
        return conn.execute(_PROPOSAL_LOCKED, {"proposal_id": proposal_id}).mappings().one()
    rows = _PROPOSAL_ROW.mappings(conn, {"proposal_id": proposal_id})
    if len(rows) != 1:
        raise NoResultFound("no proposal row") if not rows else MultipleResultsFound()
    return rows[0]


# --- reading and operator actions ---------------------------------------------------------------


def notice_rows(
    conn: Connection, *, status: str | None = None, limit: int | None = None
) -> list[RowMapping]:
    """Notices (of ``status``, or all), newest first, at most ``limit``: id,
    idempotency_key, kind, key (of the proposal; None for a digest), recipients, subject,
    context, status, attempts, next_attempt_at, lease_until, last_error, message_id,
    created_at, sent_at — no bodies."""
    stmt = (
        select(
            outbox.c.id,
            outbox.c.idempotency_key,
            outbox.c.kind,
            proposals.c.key,
            outbox.c.recipients,
            outbox.c.subject,
            outbox.c.context,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.next_attempt_at,
            outbox.c.lease_until,
            outbox.c.last_error,
            outbox.c.message_id,
            outbox.c.created_at,
            outbox.c.sent_at,
        )
        .select_from(outbox.outerjoin(proposals, proposals.c.id == outbox.c.proposal_id))
        .order_by(outbox.c.id.desc())
    )
    if status is not None:
        stmt = stmt.where(outbox.c.status == status)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt).mappings())


def count_by_status(conn: Connection) -> dict[str, int]:
    """How many notices are in each status (every status listed, 0 when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    stmt = select(outbox.c.status, func.count()).group_by(outbox.c.status)
    for status, n in conn.execute(stmt):
        counts[str(status)] = int(n)
    return counts


def retry_failed(
    conn: Connection, now: datetime, *, ids: Sequence[int] = (), all_failed: bool = False
) -> list[int]:
    """Put ``failed`` notices (among ``ids``, or all) back to ``pending``, attempts reset and
    due at ``now``; return their ids, ascending. Other statuses are left as they are."""
    where = [outbox.c.status == FAILED]
    if not all_failed:
        where.append(outbox.c.id.in_(list(ids)))
    chosen = sorted(int(i) for i in conn.execute(select(outbox.c.id).where(*where)).scalars())
    if chosen:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(chosen), outbox.c.status == FAILED)
            .values(
                status=PENDING, attempts=0, next_attempt_at=now, lease_until=None, last_error=None
            )
        )
    return chosen


def statuses_of(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The status of each existing notice among ``ids``."""
    rows = conn.execute(select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(list(ids))))
    return {int(i): str(s) for i, s in rows}
