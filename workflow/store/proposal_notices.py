"""The notices of one proposal as its page shows them: a read model over ``outbox``."""

from __future__ import annotations

from sqlalchemy import RowMapping, select

from workflow.store.db import Connection
from workflow.store.schema import outbox, proposals


def notices_of(conn: Connection, key: str) -> list[RowMapping]:
    """The notices of the proposal ``key``, newest first: ``id``, ``kind``, ``recipients``
    (as stored: a list of ``{"address": …}``), ``subject``, ``status``, ``attempts``,
    ``last_error``, ``created_at``, ``sent_at``. Empty for an unknown key."""
    stmt = (
        select(
            outbox.c.id,
            outbox.c.kind,
            outbox.c.recipients,
            outbox.c.subject,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.created_at,
            outbox.c.sent_at,
        )
        .join(proposals, proposals.c.id == outbox.c.proposal_id)
        .where(proposals.c.key == key)
        .order_by(outbox.c.id.desc())
    )
    return list(conn.execute(stmt).mappings())
