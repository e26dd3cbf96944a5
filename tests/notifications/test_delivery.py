"""The outbox worker on SQLite and PostgreSQL, with the in-memory transport (fixed now)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import select
from support import add_proposal, delivery_of

from notifications import MemoryTransport, TransportError
from notifications.mail.model import Recipient
from workflow.app.runtime import Runtime
from workflow.engine.engine import Engine
from workflow.notices.delivery import BACKOFF_BASE, STOP_AFTER_TEMPORARY, backoff, deliver
from workflow.notices.outbox import FAILED, PENDING, SENDING, SENT, Notice, enqueue, retry
from workflow.store.schema import history, outbox

IM = "ruhr-konferenz@im.nrw.example"


class FixedRandom:
    """A random source that always returns the same value (the jitter becomes exact)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


class CrashAfterSend(MemoryTransport):
    """Delivers, then dies before the worker can mark the notice sent (a killed process)."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        super()._deliver(message, sender, recipients)
        if self.crash:
            raise KeyboardInterrupt("killed between send and mark-sent")


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def entries(engine: Engine, key: str, kind: str) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        stmt = select(history).where(history.c.chain == key, history.c.kind == kind)
        return [dict(r) for r in conn.execute(stmt.order_by(history.c.seq)).mappings()]


def submitted(engine: Engine) -> str:
    key = add_proposal(engine, NOW)
    engine.advance(key, "submit", actor="koordination", now=NOW)
    return key


def test_a_due_notice_is_sent_once_and_recorded_in_the_history(runtime: Runtime) -> None:
    engine = runtime.engine
    key = submitted(engine)
    transport = MemoryTransport()
    counts = deliver(delivery_of(runtime), transport, NOW)
    again = deliver(delivery_of(runtime), transport, NOW + timedelta(hours=1))
    assert (counts.sent, counts.retried, counts.failed) == (1, 0, 0)
    assert again.claimed == 0
    (message,) = transport.outbox
    (row,) = rows(engine)
    assert row["status"] == SENT and row["sent_at"] == NOW and row["attempts"] == 1
    assert message["Message-ID"] == row["message_id"]
    assert message["X-Ruhrflow-Key"] == f"transition:{key}:2:status_change"
    (entry,) = entries(engine, key, "notice_sent")
    assert entry["trigger"] == "deliver"
    assert entry["data"]["notice"] == row["id"] and entry["data"]["kind"] == "status_change"


def test_temporary_failures_back_off_and_then_deliver(engine: Engine) -> None:
    submitted(engine)
    transport = MemoryTransport()
    transport.fail_next(2)
    now = NOW
    first = deliver(delivery_of(engine), transport, now, rng=FixedRandom(1.0))
    (row,) = rows(engine)
    assert first.retried == 1 and row["status"] == PENDING and row["attempts"] == 1
    assert row["next_attempt_at"] == now + BACKOFF_BASE  # base * 2**0, full jitter value
    assert row["last_error"] == "simulated delivery failure"
    # not due yet: nothing happens a second before
    assert (
        deliver(
            delivery_of(engine), transport, row["next_attempt_at"] - timedelta(seconds=1)
        ).claimed
        == 0
    )
    now = row["next_attempt_at"]
    second = deliver(delivery_of(engine), transport, now, rng=FixedRandom(1.0))
    (row,) = rows(engine)
    assert second.retried == 1 and row["next_attempt_at"] == now + 2 * BACKOFF_BASE
    third = deliver(delivery_of(engine), transport, row["next_attempt_at"], rng=FixedRandom(1.0))
    (row,) = rows(engine)
    assert third.sent == 1 and row["status"] == SENT and row["attempts"] == 3
    assert row["last_error"] is None and len(transport.outbox) == 1


def test_the_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    low, high = FixedRandom(0.0), FixedRandom(1.0)
    assert [backoff(n, high) for n in (1, 2, 3, 4)] == [BACKOFF_BASE * f for f in (1, 2, 4, 8)]
    assert backoff(3, low) == 2 * BACKOFF_BASE  # half of 4 minutes
    assert backoff(40, high) == timedelta(hours=6)
    spread = {backoff(5, random.Random(seed)) for seed in range(20)}
    assert len(spread) > 1 and all(8 * BACKOFF_BASE <= d <= 16 * BACKOFF_BASE for d in spread)


def test_after_max_attempts_the_notice_fails_with_the_last_error(engine: Engine) -> None:
    key = submitted(engine)
    transport = MemoryTransport()
    transport.fail_next(10)
    now = NOW
    for _ in range(3):
        deliver(delivery_of(engine), transport, now, max_attempts=3, rng=FixedRandom(0.5))
        (row,) = rows(engine)
        now = row["next_attempt_at"]
    (row,) = rows(engine)
    assert row["status"] == FAILED and row["attempts"] == 3
    assert row["last_error"] == "simulated delivery failure"
    (entry,) = entries(engine, key, "notice_failed")
    assert entry["data"]["error"] == "simulated delivery failure"
    # retry puts it back: attempts reset, due now
    with engine.store.write() as conn:
        assert retry(conn, now, all_failed=True) == [row["id"]]
    transport.fail_next(0)
    assert deliver(delivery_of(engine), transport, now).sent == 1


def test_a_permanent_error_fails_at_once(engine: Engine) -> None:
    submitted(engine)
    transport = MemoryTransport()
    transport.fail_next(1, temporary=False)
    counts = deliver(delivery_of(engine), transport, NOW)
    (row,) = rows(engine)
    assert counts.failed == 1 and row["status"] == FAILED and row["attempts"] == 1


def test_an_unreachable_transport_stops_the_pass_and_costs_the_rest_nothing(
    engine: Engine,
) -> None:
    for _ in range(5):
        submitted(engine)
    transport = MemoryTransport()
    transport.fail_next(100)
    counts = deliver(delivery_of(engine), transport, NOW)
    assert counts.stopped_early and counts.unreachable
    assert counts.retried == STOP_AFTER_TEMPORARY
    assert sorted(r["attempts"] for r in rows(engine)) == [0, 0, 1, 1, 1]


def test_a_crash_between_send_and_mark_gives_one_duplicate_with_the_same_message_id(
    engine: Engine,
) -> None:
    submitted(engine)
    transport = CrashAfterSend()
    with pytest.raises(KeyboardInterrupt):
        deliver(delivery_of(engine), transport, NOW)
    (row,) = rows(engine)
    assert row["status"] == SENDING and len(transport.outbox) == 1
    # before the lease expires nobody touches it; afterwards it is sent again, once
    transport.crash = False
    assert deliver(delivery_of(engine), transport, NOW + timedelta(minutes=9)).claimed == 0
    assert deliver(delivery_of(engine), transport, NOW + timedelta(minutes=10)).sent == 1
    assert deliver(delivery_of(engine), transport, NOW + timedelta(hours=1)).claimed == 0
    first, duplicate = transport.outbox
    assert first["Message-ID"] == duplicate["Message-ID"] == rows(engine)[0]["message_id"]
    assert rows(engine)[0]["status"] == SENT


def test_a_failure_after_the_send_never_sends_the_notice_again(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pending notice, and a history that refuses the notice_sent entry (as a 0.1.0
    # definition did after an upgrade, or any other failure after the transport accepted)
    engine = runtime.engine
    key = submitted(engine)

    def refusing(conn: Any, row: Any, **kw: Any) -> Any:
        engine.append_event(conn, row, **kw)  # it writes, and then the step fails
        raise RuntimeError("the definition of this proposal does not load")

    broken = replace(delivery_of(runtime), append_event=refusing)
    transport = MemoryTransport()
    # when delivery runs, and again after the lease would have expired
    first = deliver(broken, transport, NOW)
    later = deliver(broken, transport, NOW + timedelta(hours=2))
    # then the mail went out once, the row says sent and why its entry is missing
    assert (first.sent, later.claimed) == (1, 0)
    assert len(transport.outbox) == 1
    (row,) = rows(engine)
    assert row["status"] == SENT and row["sent_at"] == NOW
    assert "history entry missing" in row["last_error"] and "does not load" in row["last_error"]
    # the failed entry was rolled back with its savepoint (the chain has no half entry)
    assert entries(engine, key, "notice_sent") == []
    assert "is not sent again" in caplog.text


def test_a_notice_without_a_proposal_is_only_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with engine.store.write() as conn:
        context = {"ministry": {"code": "IM", "name": "Ministerium des Innern"},
                   "period": {"start": NOW, "end": NOW}, "by_state": [], "changes": [],
                   "upcoming": []}  # fmt: skip
        notice = Notice("digest:IM:2019-W28", "digest", None, [Recipient("IM", IM)], context)
        enqueue(conn, notice, NOW, domain="x.invalid")
    with caplog.at_level("INFO", logger="ruhrflow.delivery"):
        assert deliver(delivery_of(engine), MemoryTransport(), NOW).sent == 1
    assert "notice_sent: notice" in caplog.text and "digest:IM:2019-W28" in caplog.text


def test_limit_bounds_one_pass(engine: Engine) -> None:
    for _ in range(3):
        submitted(engine)
    transport = MemoryTransport()
    assert deliver(delivery_of(engine), transport, NOW, limit=2).sent == 2
    assert deliver(delivery_of(engine), transport, NOW).sent == 1


def test_nothing_is_lost_and_nothing_sent_twice_over_a_lifecycle(runtime: Runtime) -> None:
    from support import walk_to

    engine = runtime.engine
    keys = [add_proposal(engine, NOW) for _ in range(3)]
    transport = MemoryTransport()
    transport.fail_next(2)
    now: datetime = NOW
    for key in keys:
        now = walk_to(engine, key, "funded", now)
        deliver(delivery_of(runtime), transport, now, rng=random.Random(7))
    for _ in range(5):
        now += timedelta(hours=1)
        deliver(delivery_of(runtime), transport, now, rng=random.Random(7))
    stored = rows(engine)
    assert {r["status"] for r in stored} == {SENT}
    sent_ids = [m["Message-ID"] for m in transport.outbox]
    assert sorted(sent_ids) == sorted(r["message_id"] for r in stored)
    assert len(set(sent_ids)) == len(sent_ids)
    with pytest.raises(TransportError):  # the memory twin still refuses what is no notice
        transport.send(EmailMessage())
