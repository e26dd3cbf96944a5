"""``[retention]``: how long the outbox keeps the mails it sent.

Every notice keeps, for ever, what an auditor asks about: to whom, which subject, when it was
sent, its status, the template context it was made from, and — in the history, which is never
trimmed — that it was sent. The mail as sent (text, HTML, attachments) is a copy of personal
correspondence, needed while somebody may ask "what exactly did the ministry get?"; after
``mail_body_days`` days it is removed by ``ruhrflow notices prune`` (run it daily, e.g. from
a systemd timer or cron). Only sent notices are pruned: a pending or failed one may still go
out. ``0`` keeps everything.

Pruning works in batches of short transactions, so that the scheduler's delivery is never
held up for long, and it is safe to interrupt or to run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflow.errors import InvalidConfig
from workflow.store import retention
from workflow.store.db import Store

BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    """What a prune did (or, dry, would do)."""

    cutoff: datetime | None  # None: retention is off
    notices: int
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "notices": self.notices,
            "dry_run": self.dry_run,
        }


def retention_days(section: Mapping[str, Any]) -> int:
    """``[retention] mail_body_days`` (0: keep for ever)."""
    value = section.get("mail_body_days", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidConfig(f"retention.mail_body_days must be a whole number, not {value!r}")
    return value


def prune_mail_bodies(
    store: Store,
    now: datetime,
    days: int,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PruneResult:
    """Remove the mail text, HTML and attachments of notices sent more than ``days`` before
    ``now`` (``days`` 0: nothing); ``dry_run`` only counts them."""
    if days <= 0:
        return PruneResult(None, 0, dry_run)
    cutoff = now - timedelta(days=days)
    with store.read() as conn:
        total = retention.count_prunable(conn, cutoff)
    if dry_run or total == 0:
        return PruneResult(cutoff, total, dry_run)
    done = 0
    while True:
        with store.write() as conn:
            pruned = retention.prune_batch(conn, cutoff, BATCH)
        if not pruned:
            break
        done += pruned
        if progress is not None:
            progress(done, max(total, done))
    return PruneResult(cutoff, done, dry_run)
