"""The outbox contract on SQLite and PostgreSQL: notices are rows of the causing transaction."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import func, select
from support import add_proposal, as_delivered, delivery_of, walk_to

from notifications.mail.addresses import calendar_uid
from notifications.mail.model import Recipient
from notifications.mail.transport import MemoryTransport
from workflow.app.runtime import Runtime, transition_effects
from workflow.deadlines.sweep import sweep
from workflow.engine.changes import Batch
from workflow.engine.effects import Effect
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput
from workflow.notices.context import open_deadlines_of
from workflow.notices.delivery import claim, deliver
from workflow.notices.events import Notifier
from workflow.notices.outbox import FAILED, PENDING, SENDING, Notice, enqueue, list_notices
from workflow.store.installation import installation_id
from workflow.store.schema import deadline_rungs, deadlines, outbox, proposals

IM = "ruhr-konferenz@im.nrw.example"
# The reminders of a consultation opened on 15 Jul 2019, 12:00 Berlin (walk_to from NOW).
REMIND_7D = datetime(2019, 7, 29, 7, 0, tzinfo=UTC)
REMIND_1D = datetime(2019, 8, 4, 7, 0, tzinfo=UTC)
VM = "ruhr-konferenz@vm.nrw.example"
MKW = "ruhr-konferenz@mkw.nrw.example"
COORDINATION = "koordination@ruhrkonferenz.nrw.example"
CONTEXT: dict[str, Any] = {}  # for notices that are stored but never delivered here


def notices(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    stmt = select(outbox).order_by(outbox.c.id)
    for name, value in where.items():
        stmt = stmt.where(outbox.c[name] == value)
    with engine.store.read() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def mails(engine: Engine, **where: Any) -> list[dict[str, Any]]:
    """The notices with their bodies and attachments as delivery renders them."""
    return [as_delivered(r) for r in notices(engine, **where)]


def addresses(row: dict[str, Any]) -> set[str]:
    return {r["address"] for r in row["recipients"]}


def add_with_participants(engine: Engine, *participating: str) -> str:
    (key,) = engine.create_proposals(
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
    notice = Notice("test:1", "status_change", None, [Recipient("IM", IM)], CONTEXT)
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
    notice = Notice("test:nobody", "digest", None, [Recipient("X", "not an address")], CONTEXT)
    with engine.store.write() as conn:
        enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
    (row,) = notices(engine)
    assert row["status"] == FAILED
    assert row["last_error"].startswith("no recipient")
    assert row["recipients"] == []


def test_a_rolled_back_transaction_leaves_no_notice(engine: Engine) -> None:
    im = [Recipient("IM", IM)]
    notice = Notice("test:rollback", "status_change", None, im, CONTEXT)
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
    (row,) = mails(engine)
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
    rows = mails(engine, kind="consultation_opened")
    (opened,) = rows
    assert addresses(opened) == {COORDINATION}
    assert "bis 05.08.2019, 09:00 Uhr" in opened["body_text"]
    (status,) = [
        r
        for r in mails(engine, kind="status_change")
        if r["idempotency_key"].endswith(":3:status_change")
    ]
    assert (
        "Ende der Beteiligung von Kommunen, Kammern und Verbänden: bis 05.08.2019"
        in (status["body_text"])
    )
    (ics,) = status["attachments"]
    assert ics["filename"] == "termin.ics" and ics["content_type"].startswith("text/calendar")
    assert re.search(r"UID:[0-9a-f]{32}@", ics["content"]) and "SEQUENCE:0" in ics["content"]


def test_progress_reports_go_to_lead_and_coordinators(engine: Engine) -> None:
    key = add_with_participants(engine, "VM")
    walk_to(engine, key, "implementation", NOW)
    engine.advance(key, "report_progress", actor="im", now=NOW + timedelta(days=1),
                   fields={"progress": 40})  # fmt: skip
    row = mails(engine)[-1]
    assert row["idempotency_key"].endswith(":status_change")
    assert addresses(row) == {IM, COORDINATION}
    assert "Umsetzungsstand in Prozent: 40" in row["body_text"]


def test_fired_rungs_give_reminders_and_escalations_once(engine: Engine, runtime: Runtime) -> None:
    from workflow.cli.schedule import scheduler_hooks

    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    hooks = scheduler_hooks(runtime, lambda: NOW)
    # the reminders on time, the escalation when it is due
    for at in (REMIND_7D, REMIND_1D, NOW + timedelta(days=30)):
        sweep(engine.store, engine.machines, engine.append_event, at, on_rung=hooks.on_rung)
        sweep(engine.store, engine.machines, engine.append_event, at, on_rung=hooks.on_rung)
    reminders = mails(engine, kind="reminder")
    (escalation,) = mails(engine, kind="escalation")
    assert len(reminders) == 2
    # reminder → lead ministry (+ the rule's remind_to: coordinator); escalation → both
    assert all(addresses(r) == {IM, COORDINATION} for r in reminders)
    assert addresses(escalation) == {IM, COORDINATION}
    assert escalation["idempotency_key"].startswith("deadline-rung:")
    assert escalation["subject"].startswith("(verspätet) Frist überschritten")
    assert "2 Arbeitstage nach Fristende" in escalation["body_text"]
    (ics,) = escalation["attachments"]
    assert re.search(r"UID:[0-9a-f]{32}@", ics["content"])


def test_claim_takes_one_due_row_and_its_lease_protects_it(engine: Engine) -> None:
    with engine.store.write() as conn:
        for i in range(2):
            enqueue(conn, Notice(f"t:{i}", "status_change", None, [Recipient("IM", IM)],
                                 CONTEXT), NOW, domain="x.invalid")  # fmt: skip
        later = Notice("t:later", "status_change", None, [Recipient("IM", IM)], CONTEXT)
        enqueue(conn, later, NOW + timedelta(hours=1), domain="x.invalid")
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
                                 CONTEXT), NOW, domain="x.invalid")  # fmt: skip
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


def test_a_transition_stores_the_context_and_delivery_stores_what_it_sent(
    engine: Engine,
) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    stmt = select(outbox).where(outbox.c.idempotency_key == f"transition:{key}:3:status_change")
    with engine.store.read() as conn:
        stored = dict(conn.execute(stmt).mappings().one())
    # the transaction wrote the context and the deadline — no mail yet
    assert stored["subject"] is None and stored["body_text"] is None
    assert stored["attachments"] is None
    assert stored["context"]["proposal"]["key"] == key
    assert re.fullmatch(r"[0-9a-f]{32}@ruhrkonferenz\.nrw\.example", stored["calendar"]["uid"])
    transport = MemoryTransport()
    assert deliver(delivery_of(engine), transport, NOW + timedelta(days=1)).failed == 0
    (message,) = [m for m in transport.outbox if m["Message-ID"] == stored["message_id"]]
    with engine.store.read() as conn:
        sent = dict(conn.execute(stmt).mappings().one())
    # the row keeps the mail as it was sent: both bodies and the termin.ics
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert sent["status"] == "sent" and sent["body_text"] == plain.get_content()
    assert sent["body_html"] == html.get_content()
    (ics,) = message.iter_attachments()
    (stored_ics,) = sent["attachments"]
    assert stored_ics["content"] == ics.get_content()
    assert message["Subject"] == sent["subject"] and key in sent["subject"]


def test_the_same_row_renders_to_the_same_bytes(engine: Engine) -> None:
    # a retry, or a duplicate after a crash, sends what the first attempt sent: the
    # termin.ics is stamped with the row's creation, not with the time of delivery
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "consultation", NOW)
    rows = _raw(engine)
    with_calendar = [r for r in rows if r["calendar"] is not None]
    assert rows and with_calendar
    for row in rows:
        assert as_delivered(row) == as_delivered(row)
    for row in with_calendar:
        (ics,) = as_delivered(row)["attachments"]
        stamp = row["created_at"].astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        assert f"DTSTAMP:{stamp}" in ics["content"]


def test_a_context_the_templates_cannot_render_fails_the_notice_not_the_transition(
    engine: Engine,
) -> None:
    # given a notice whose context lacks what the status_change templates use
    notice = Notice("test:broken", "status_change", None, [Recipient("IM", IM)], CONTEXT)
    with engine.store.write() as conn:
        enqueue(conn, notice, NOW, domain="ruhrflow.invalid")
    # when the worker delivers it
    transport = MemoryTransport()
    counts = deliver(delivery_of(engine), transport, NOW)
    # then nothing is sent, the notice failed at once (retrying cannot help) and says why
    assert counts.failed == 1 and counts.sent == 0 and transport.outbox == []
    (row,) = _raw(engine)
    assert row["status"] == FAILED and "template error in status_change" in row["last_error"]


def _raw(engine: Engine) -> list[dict[str, Any]]:
    with engine.store.read() as conn:
        return [dict(r) for r in conn.execute(select(outbox)).mappings()]


def test_the_listing_shows_the_subject_of_a_notice_not_sent_yet(engine: Engine) -> None:
    key = add_proposal(engine, NOW)
    walk_to(engine, key, "proposed", NOW)
    broken = Notice("test:broken", "status_change", None, [Recipient("IM", IM)], CONTEXT)
    with engine.store.write() as conn:
        enqueue(conn, broken, NOW, domain="ruhrflow.invalid")
    with engine.store.read() as conn:
        listed = {r["idempotency_key"]: r for r in list_notices(conn)}
    # rendered from the stored context, as delivery will render it
    assert (
        listed[f"transition:{key}:2:status_change"]["subject"]
        == (as_delivered(notices(engine)[0])["subject"])
    )
    assert key in listed[f"transition:{key}:2:status_change"]["subject"]
    assert listed["test:broken"]["subject"].startswith("(cannot render the subject:")


def _notice_views(engine: Engine, key: str) -> list[tuple[str, Any, Any]]:
    """(kind, decoded context, calendar without its uid) of the notices of ``key``, in order;
    the key itself and the deadline ids (different per proposal) are masked."""
    from workflow.notices.codec import decode

    with engine.store.read() as conn:
        pid = conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one()
        rows = (
            conn.execute(select(outbox).where(outbox.c.proposal_id == pid).order_by(outbox.c.id))
            .mappings()
            .all()
        )
    views = []
    for r in rows:
        context = json.loads(json.dumps(decode(r["context"]), default=str).replace(key, "KEY"))
        calendar = None
        if r["calendar"] is not None:
            calendar = {k: v for k, v in r["calendar"].items() if k != "uid"}
            calendar = json.loads(json.dumps(calendar).replace(key, "KEY"))
        views.append((r["kind"], context, calendar))
    return views


def test_the_deadlines_handed_over_are_those_a_query_finds(
    engine: Engine, runtime: Runtime
) -> None:
    # The deadline effect hands the notices the deadlines it opened (no second query). The
    # same lifecycle with the hand-over switched off must give the same notices.
    handed = add_proposal(engine, NOW)
    queried = add_proposal(engine, NOW)
    walk_to(engine, handed, "completed", NOW)

    class WithoutHandOver(Effect):
        def __init__(self, notifier: Notifier) -> None:
            self.notifier = notifier

        def on_transition(self, batch: Batch) -> None:
            self.notifier.on_transition(replace(batch, opened={}))

    def without_hand_over(effect: Effect) -> Effect:
        return WithoutHandOver(effect) if isinstance(effect, Notifier) else effect

    effects = transition_effects(runtime.settings, runtime.directory)
    without = Engine(
        runtime.store,
        runtime.directory,
        audit_key=runtime.settings.audit_key,
        effects=[without_hand_over(e) for e in effects],
    )
    walk_to(without, queried, "completed", NOW)
    views = _notice_views(engine, handed)
    assert len(views) >= 10
    assert any(context["deadlines"] for kind, context, _ in views if kind == "status_change")
    assert views == _notice_views(engine, queried)


def test_a_bulk_advance_hands_over_the_deadlines_too(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [add_proposal(engine, NOW) for _ in range(3)]
    for key in keys:
        walk_to(engine, key, "funded", NOW)
    queries: list[int] = []
    real = open_deadlines_of

    def counted(conn: Any, definition_of: Any) -> Any:
        queries.append(len(definition_of))
        return real(conn, definition_of)

    monkeypatch.setattr("workflow.notices.events.open_deadlines_of", counted)
    later = NOW + timedelta(days=2)
    engine.advance_many("start", keys=keys, actor="koordination", now=later)
    assert queries == []  # every proposal changed state: the effect knew all their deadlines
    # each notice names its own proposal's deadline, and the rungs hang on it
    with engine.store.read() as conn:
        installation = installation_id(conn)
        for key in keys:
            pid = conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one()
            (deadline_id,) = conn.execute(
                select(deadlines.c.id).where(
                    deadlines.c.proposal_id == pid, deadlines.c.status == "open"
                )
            ).one()
            uid = (
                conn.execute(
                    select(outbox.c.calendar)
                    .where(outbox.c.proposal_id == pid)
                    .order_by(outbox.c.id.desc())
                )
                .scalars()
                .first()["uid"]
            )
            expected = calendar_uid(
                "ruhrkonferenz.nrw.example", "deadline", deadline_id, installation=installation
            )
            assert uid == expected
            rungs = conn.execute(
                select(deadline_rungs.c.deadline_id).where(
                    deadline_rungs.c.deadline_id == deadline_id
                )
            ).all()
            assert len(rungs) == 2
    for key in keys:
        (kind, context, calendar) = _notice_views(engine, key)[-1]
        assert kind == "status_change" and calendar is not None
        assert [d["kind"] for d in context["deadlines"]] == ["progress_report"]
