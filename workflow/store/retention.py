"""The mail bodies of sent notices past their retention (``ruhrflow notices prune``).

A notice sent before a cutoff keeps its row — recipients, subject, times, status, context —
and loses only the mail as sent (text, HTML, attachments). Pending and failed notices are
never pruned: they may still go out. The policy (``[retention]``, batches, progress) is
:mod:`workflow.app.retention`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from workflow.store.db import Connection
from workflow.store.outbox import SENT
from workflow.store.schema import outbox


def _prunable(cutoff: datetime) -> Any:
    return (
        (outbox.c.status == SENT)
        & (outbox.c.sent_at < cutoff)
        & ((outbox.c.body_text.is_not(None)) | (outbox.c.body_html.is_not(None)))
    )


def count_prunable(conn: Connection, cutoff: datetime) -> int:
    """How many notices sent before ``cutoff`` still hold a mail body."""
    query = select(func.count()).select_from(outbox).where(_prunable(cutoff))
    return int(conn.execute(query).scalar_one())


def prune_batch(conn: Connection, cutoff: datetime, limit: int) -> int:
    """Remove the text, HTML and attachments of at most ``limit`` notices sent before
    ``cutoff`` (lowest ids first), in the caller's write transaction; how many it pruned
    (0: none left)."""
    ids = list(
        conn.execute(
            select(outbox.c.id).where(_prunable(cutoff)).order_by(outbox.c.id).limit(limit)
        ).scalars()
    )
    if ids:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(body_text=None, body_html=None, attachments=None)
        )
    return len(ids)
