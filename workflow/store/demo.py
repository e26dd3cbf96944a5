"""What the demo (``workflow/demo/``) reads while it plays the 2019 round, and for
the summary it prints at the end.

Reads, each in the caller's transaction (the simulation asks for the next pending rung
about two thousand times: that statement is built once), and how the run's connections
commit (:func:`commit_without_fsync`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, event, func, select, update
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

from workflow.process.deadline_rules import OPEN
from workflow.store.db import Store
from workflow.store.direct import Direct
from workflow.store.outbox import CLAIM, CLAIMABLE, SENDING, SENT
from workflow.store.schema import deadline_rungs, deadlines, funding, outbox, proposals

_NEXT_RUNG = Direct(
    select(func.min(deadline_rungs.c.fire_at))
    .join(deadlines, deadlines.c.id == deadline_rungs.c.deadline_id)
    .where(
        deadline_rungs.c.fired_at.is_(None),
        deadline_rungs.c.cancelled_at.is_(None),
        deadlines.c.status == OPEN,
    )
)


def next_rung_at(conn: Connection) -> datetime | None:
    """When the next pending rung of an open deadline fires (None when none is pending)."""
    value: datetime | None = _NEXT_RUNG.all(conn, {})[0][0]
    return value


_OPEN_DUE = Direct(
    select(deadlines.c.due_at)
    .join(proposals, proposals.c.id == deadlines.c.proposal_id)
    .where(
        proposals.c.key == bindparam("key"),
        deadlines.c.kind == bindparam("kind"),
        deadlines.c.status == OPEN,
    )
)


def open_due_at(conn: Connection, key: str, kind: str) -> datetime:
    """The due time of proposal ``key``'s open deadline ``kind``; there must be exactly one
    (``NoResultFound`` or ``MultipleResultsFound`` otherwise)."""
    rows = _OPEN_DUE.all(conn, {"key": key, "kind": kind})  # asked once per progress report
    if not rows:
        raise NoResultFound(f"no open deadline {kind!r} of {key}")
    if len(rows) > 1:
        raise MultipleResultsFound(f"{len(rows)} open deadlines {kind!r} of {key}")
    due: datetime = rows[0][0]
    return due


def all_proposals(conn: Connection) -> Sequence[RowMapping]:
    """Every proposal row, whole, by key."""
    return conn.execute(select(proposals).order_by(proposals.c.key)).mappings().all()


def proposals_per_state(conn: Connection) -> dict[str, int]:
    """How many proposals are in each state (states without any left out)."""
    stmt = select(proposals.c.state, func.count()).group_by(proposals.c.state)
    return {state: n for state, n in conn.execute(stmt).all()}


def notices_per_kind_and_status(conn: Connection) -> list[tuple[str, str, int]]:
    """``(kind, status, count)`` of the notices in the outbox, one per pair that has any."""
    stmt = select(outbox.c.kind, outbox.c.status, func.count()).group_by(
        outbox.c.kind, outbox.c.status
    )
    return [(kind, status, n) for kind, status, n in conn.execute(stmt)]


def funding_of_year(conn: Connection, year: int) -> Decimal:
    """The sum of every funding line of ``year``, planned and secured (0 when none)."""
    stmt = select(func.coalesce(func.sum(funding.c.amount), 0)).where(funding.c.year == year)
    return Decimal(conn.execute(stmt).scalar_one())


def commit_without_fsync(store: Store) -> None:
    """From now on, a commit of ``store`` (SQLite) waits for no fsync: ``synchronous=NORMAL``
    instead of the ``FULL`` every ruhrflow process uses (workflow/store/db.py).

    For a run that is made again rather than recovered (the demo: ``--fresh``), whose eleven
    thousand commits would otherwise wait for the disk eleven thousand times. What is written
    is the same; in WAL mode NORMAL keeps the database consistent through a crash, and only
    the last commits before a power loss may be missing. :func:`checkpoint` at the end writes
    everything into the database file and syncs it. Connections already open are closed, so
    that every connection from now on is set so.
    """
    if store.dialect != "sqlite":
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(store.engine, "connect", on_connect)  # after the store's own (FULL)
    store.engine.dispose()


def checkpoint(store: Store) -> None:
    """Copy the write-ahead log into the SQLite database file and sync it (a no-op
    elsewhere)."""
    if store.dialect != "sqlite":
        return
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


_BODIES = Direct(
    update(outbox)
    .where(outbox.c.id == bindparam("notice_id"))
    .values(
        subject=bindparam("subject"),
        body_text=bindparam("body_text"),
        body_html=bindparam("body_html"),
        attachments=bindparam("attachments"),
    )
)


def set_bodies(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Fill in the mail of sent notices: ``rows`` of ``notice_id``, ``subject``,
    ``body_text``, ``body_html`` and ``attachments`` (the columns delivery's mark sets)."""
    if rows:
        _BODIES.executemany(conn, rows)


# The delivery pass of the demo (workflow/demo/mail.py): the claims and marks of
# workflow/store/outbox.py for every due notice of a pass at once, on SQLite's cursor.
_DUE = Direct(select(outbox).where(CLAIMABLE).order_by(outbox.c.next_attempt_at, outbox.c.id))
_CLAIM = Direct(CLAIM)
_SENT = Direct(
    update(outbox)
    .where(outbox.c.id == bindparam("notice_id"))
    .values(status=SENT, sent_at=bindparam("sent_at"), lease_until=None, last_error=None)
)


def claim_due(conn: Connection, now: datetime, lease_until: datetime) -> list[dict[str, Any]]:
    """Claim every notice claimable at ``now`` (``pending`` and due, or ``sending`` with an
    expired lease), oldest first, as one claim after the other would (``sending`` until
    ``lease_until``, one attempt more); return them as claimed. For the demo's one writer:
    no other worker can claim between the read and the writes."""
    rows = [dict(r) for r in _DUE.mappings(conn, {"now": now})]
    if rows:
        params = [{"notice_id": r["id"], "now": now, "lease_until": lease_until} for r in rows]
        claimed = _CLAIM.executemany(conn, params)
        assert claimed == len(rows), (claimed, len(rows))
    return [{**r, "status": SENDING, "attempts": r["attempts"] + 1} for r in rows]


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """Mark the notices ``ids`` ``sent`` at ``now`` (lease and error cleared), as delivery
    marks each; their mail's columns are set by :func:`set_bodies`."""
    if ids:
        _SENT.executemany(conn, [{"notice_id": i, "sent_at": now} for i in ids])
