"""The outbox contract on SQLite and PostgreSQL: notices are rows of the causing transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal, walk_to

from notifications.delivery import claim
from notifications.model import Recipient, RenderedNotice
from notifications.outbox import FAILED, PENDING, SENDING, Notice, enqueue
from workflow.engine import Engine
from workflow.intake import ProposalInput, create_proposals
from workflow.runtime import Runtime
from workflow.store.schema import outbox
from workflow.sweep import sweep

IM = "ruhr-konferenz@im.nrw.example"
VM = "ruhr-konferenz@vm.nrw.example"
MKW = "ruhr-konferenz@mkw.nrw.example"
COORDINATION = "koordination@ruhrkonferenz.nrw.example"
RENDERED = RenderedNotice("Betreff", "Text", "<p>Text</p>")


def notices(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    stmt = select(outbox).order_by(outbox.c.id)
    for name, value in where.items():
        stmt = stmt.where(outbox.c[name] == value)
    with engine.store.read() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def addresses(row: dict[str, Any]) -> set[str]:
    return {r["address"] for r in row["recipients"]}


def add_with_participants(engine: Engine, *participating: str) -> str:
    (key,) = create_proposals(
        engine,
        [
            ProposalInput(
                title="Ruhrbahn 2030 (Testdaten)",
                handlungsfeld=1,
                themenforum=3,
                lead="IM",
                participating=participating,
                cost_estimate=Decimal(1_000_000),
            )
        ],
        actor="koordination",
        now=NOW,
    )
    return key


def test_a_duplicate_idempotency_key_is_a_no_op(engine: Engine) -> None:
    notice = Notice("test:1", "status_change", None, [Recipient("IM", IM)], RENDERED)
    with engine.store.write() as conn:
        first = enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
        second = enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
    with engine.store.write() as conn:
        third = enqueue(conn, notice, NOW + timedelta(days=1), domain="ruhrflow.invalid")
    assert first is not None and second is None and third is None
    (row,) = notices(engine)
    assert row["status"] == PENDING and row["created_at"] == NOW
    assert row["message_id"].endswith("@ruhrflow.invalid>")


def test_a_notice_without_recipient_is_stored_as_failed(engine: Engine) -> None:
    notice = Notice("test:nobody", "digest", None, [Recipient("X", "not an address")], RENDERED)
    with engine.store.write() as conn:
        enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
    (row,) = notices(engine)
    assert row["status"] == FAILED
    assert row["last_error"].startswith("no recipient")
    assert row["recipients"] == []


def test_a_rolled_back_transaction_leaves_no_notice(engine: Engine) -> None:
    notice = Notice("test:rollback", "status_change", None, [Recipient("IM", IM)], RENDERED)
    with pytest.raises(RuntimeError), engine.store.write() as conn:
        enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
        raise RuntimeError("the transition failed after the insert")
    assert notices(engine) == []


def test_a_refused_transition_leaves_no_notice(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    before = len(notices(engine))
    with pytest.raises(Exception, match="consultation"):
        engine.advance(key, "close_consultation", actor="koordination", now=NOW)
    assert len(notices(engine)) == before


def test_creation_sends_nothing_and_each_transition_one_status_change(engine: Engine) -> None:
    key = add_with_participants(engine, "VM", "MKW")
    assert notices(engine) == []
    engine.advance(key, "submit", actor="koordination", now=NOW, comment="Bitte prüfen")
    (row,) = notices(engine)
    assert row["idempotency_key"] == f"transition:{key}:2:status_change"
    assert row["kind"] == "status_change" and row["status"] == PENDING
    assert addresses(row) == {IM, VM, MKW}
    assert "Vorschlag eingereicht" in row["subject"] and "Bitte prüfen" in row["body_text"]
    assert row["attachments"] == []  # the state `proposed` has no deadline


def test_opening_the_consultation_tells_the_coordinators_with_the_deadline(
    engine: Engine,
) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)  # opened 15 Jul 12:00, due 5 Aug 09:00
    rows = notices(engine, kind="consultation_opened")
    (opened,) = rows
    assert addresses(opened) == {COORDINATION}
    assert "bis 05.08.2019, 09:00 Uhr" in opened["body_text"]
    (status,) = [
        r
        for r in notices(engine, kind="status_change")
        if r["idempotency_key"].endswith(":3:status_change")
    ]
    assert (
        "Ende der Beteiligung von Kommunen, Kammern und Verbänden: bis 05.08.2019"
        in (status["body_text"])
    )
    (ics,) = status["attachments"]
    assert ics["filename"] == "termin.ics" and ics["content_type"].startswith("text/calendar")
    assert "UID:deadline-" in ics["content"] and "SEQUENCE:0" in ics["content"]


def test_progress_reports_go_to_lead_and_coordinators(engine: Engine) -> None:
    key = add_with_participants(engine, "VM")
    walk_to(engine, key, "implementation", NOW)
    engine.advance(key, "report_progress", actor="im", now=NOW + timedelta(days=1),
                   fields={"progress": 40})  # fmt: skip
    row = notices(engine)[-1]
    assert row["idempotency_key"].endswith(":status_change")
    assert addresses(row) == {IM, COORDINATION}
    assert "Umsetzungsstand in Prozent: 40" in row["body_text"]


def test_fired_rungs_give_reminders_and_escalations_once(engine: Engine, runtime: Runtime) -> None:
    from workflow.cli.schedule import scheduler_hooks

    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    hooks = scheduler_hooks(runtime)
    later = NOW + timedelta(days=30)  # all three rungs of the consultation are due
    sweep(engine, later, on_rung=hooks.on_rung)
    sweep(engine, later, on_rung=hooks.on_rung)
    reminders = notices(engine, kind="reminder")
    (escalation,) = notices(engine, kind="escalation")
    assert len(reminders) == 2
    # reminder → lead ministry (+ the rule's remind_to: coordinator); escalation → both
    assert all(addresses(r) == {IM, COORDINATION} for r in reminders)
    assert addresses(escalation) == {IM, COORDINATION}
    assert escalation["idempotency_key"].startswith("deadline-rung:")
    assert "Frist überschritten" in escalation["subject"]
    assert "2 Arbeitstage nach Fristende" in escalation["body_text"]
    (ics,) = escalation["attachments"]
    assert "UID:deadline-" in ics["content"]


def test_claim_takes_one_due_row_and_its_lease_protects_it(engine: Engine) -> None:
    with engine.store.write() as conn:
        for i in range(2):
            enqueue(conn, Notice(f"t:{i}", "status_change", None, [Recipient("IM", IM)],
                                 RENDERED), NOW, domain="x.invalid")  # fmt: skip
        enqueue(conn, Notice("t:later", "status_change", None, [Recipient("IM", IM)], RENDERED),
                NOW + timedelta(hours=1), domain="x.invalid")  # fmt: skip
    lease = timedelta(minutes=10)
    with engine.store.write() as conn:
        first = claim(conn, NOW, lease)
    with engine.store.write() as conn:
        second = claim(conn, NOW, lease)
    with engine.store.write() as conn:
        third = claim(conn, NOW, lease)  # the later one is not due, the others are leased
    assert first is not None and second is not None and third is None
    assert first["idempotency_key"] == "t:0" and second["idempotency_key"] == "t:1"
    assert first["status"] == SENDING and first["attempts"] == 1
    # after the lease, a row stuck in sending is claimed again (crash recovery)
    with engine.store.write() as conn:
        again = claim(conn, NOW + lease, lease)
    assert again is not None and again["id"] == first["id"] and again["attempts"] == 2


def test_two_workers_claim_disjoint_rows_on_postgresql(engine: Engine, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers (BEGIN IMMEDIATE)")
    with engine.store.write() as conn:
        for i in range(4):
            enqueue(conn, Notice(f"w:{i}", "status_change", None, [Recipient("IM", IM)],
                                 RENDERED), NOW, domain="x.invalid")  # fmt: skip
    lease = timedelta(minutes=10)
    # worker A holds its claim's transaction open while worker B claims
    with engine.store.write() as a:
        mine = claim(a, NOW, lease)
        with engine.store.write() as b:
            theirs = claim(b, NOW, lease)
            theirs_too = claim(b, NOW, lease)
    assert mine is not None and theirs is not None and theirs_too is not None
    assert len({mine["id"], theirs["id"], theirs_too["id"]}) == 3
    with engine.store.read() as conn:
        leased = conn.execute(select(func.count()).where(outbox.c.status == SENDING)).scalar_one()
    assert leased == 3
