"""The weekly digest per ministry, on SQLite and PostgreSQL (fixed now)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from conftest import NOW
from sqlalchemy import select
from support import add_proposal, as_delivered, delivery_of, walk_to

from workflow.app.runtime import Runtime
from workflow.notices.digest import digest_due, make_digests, reported_week, week_label
from workflow.process.vocabulary import BERLIN
from workflow.store.schema import outbox

# Monday 22 Jul 2019, 07:00 Berlin: the digest of week 29 (15–21 Jul).
MONDAY = datetime(2019, 7, 22, 5, 0, tzinfo=UTC)


def digests(runtime: Runtime) -> dict[str, dict[str, Any]]:
    with runtime.store.read() as conn:
        stmt = select(outbox).where(outbox.c.kind == "digest")
        return {r["idempotency_key"]: as_delivered(r) for r in conn.execute(stmt).mappings()}


def test_the_reported_week_is_the_last_full_local_week() -> None:
    start, end = reported_week(MONDAY)
    assert start.astimezone(BERLIN) == datetime(2019, 7, 15, 0, 0, tzinfo=BERLIN)
    assert end - start == timedelta(days=7) and week_label(start) == "2019-W29"
    # across the autumn clock change the week is 169 hours long, still Monday to Monday
    start, end = reported_week(datetime(2019, 10, 28, 6, 0, tzinfo=UTC))
    assert week_label(start) == "2019-W43" and end - start == timedelta(hours=169)


def test_the_digest_is_due_from_its_weekly_moment_on() -> None:
    assert not digest_due(MONDAY - timedelta(minutes=1), "mon", time(7, 0))
    assert digest_due(MONDAY, "mon", time(7, 0))
    assert digest_due(MONDAY + timedelta(days=3), "mon", time(7, 0))
    assert not digest_due(MONDAY + timedelta(days=1), "wed", time(7, 0))


def test_a_ministry_gets_its_proposals_changes_and_deadlines_once(runtime: Runtime) -> None:
    # given an IM proposal that entered the consultation in week 29 (due 5 Aug, in 14 days)
    engine = runtime.engine
    key = add_proposal(engine, NOW, lead="IM", title="Sicherheitskooperation")
    walk_to(engine, key, "consultation", NOW)
    add_proposal(engine, NOW, lead="VM")  # VM: a proposal, but no change and no deadline soon
    notifier = runtime.notifier
    # when the digest is made on Monday, and again (another process, a catch-up)
    result = make_digests(
        engine.store, engine.machines, notifier.directory, MONDAY, domain=notifier.domain
    )
    again = make_digests(
        engine.store,
        engine.machines,
        notifier.directory,
        MONDAY + timedelta(hours=5),
        domain=notifier.domain,
    )
    # then IM gets one, with all three sections; nobody else
    assert result.week == "2019-W29" and result.enqueued == ["IM"]
    assert again.enqueued == [] and again.existing == ["IM"]
    assert "VM" in result.nothing_to_report
    (row,) = digests(runtime).values()
    assert row["idempotency_key"] == "digest:IM:2019-W29" and row["proposal_id"] is None
    assert [r["address"] for r in row["recipients"]] == ["ruhr-konferenz@im.nrw.example"]
    text = row["body_text"]
    assert row["subject"] == "Wochenübersicht Ruhr-Konferenz für IM: 15.07.2019 bis 21.07.2019"
    assert f"- {key} – Sicherheitskooperation" in text
    assert "1 Vorschlag: Beteiligung eröffnen am 15.07.2019" in text
    assert "neuer Stand: Beteiligung von Kommunen" in " ".join(text.split())
    assert "Ende der Beteiligung von Kommunen, Kammern und Verbänden: bis 05.08.2019" in text


def test_the_week_after_brings_no_digest_without_news(runtime: Runtime) -> None:
    engine = runtime.engine
    key = add_proposal(engine, NOW, lead="IM")
    walk_to(engine, key, "proposed", NOW)
    notifier = runtime.notifier
    # a week later nothing changed and `proposed` has no deadline: no digest for anyone
    result = make_digests(
        engine.store,
        engine.machines,
        notifier.directory,
        MONDAY + timedelta(days=7),
        domain=notifier.domain,
    )
    assert result.enqueued == [] and digests(runtime) == {}


def test_scheduler_hook_makes_the_digest_only_when_due(runtime: Runtime) -> None:
    from workflow.cli.schedule import scheduler_hooks

    engine = runtime.engine
    walk_to(engine, add_proposal(engine, NOW), "consultation", NOW)
    early = scheduler_hooks(runtime, clock=lambda: MONDAY - timedelta(hours=1))
    assert early.weekly_digest is not None and early.weekly_digest() is None
    on_time = scheduler_hooks(runtime, clock=lambda: MONDAY)
    assert on_time.weekly_digest is not None
    assert on_time.weekly_digest().enqueued == ["IM"]
    assert list(digests(runtime)) == ["digest:IM:2019-W29"]


def test_a_bulk_change_is_one_row_of_the_digest_table_with_every_key_whole(
    runtime: Runtime,
) -> None:
    import email
    import email.policy
    from email.message import EmailMessage

    from notifications.mail.transport import MemoryTransport
    from workflow.notices.delivery import deliver

    # given eleven IM proposals whose consultation the office opened at once
    engine = runtime.engine
    keys = [add_proposal(engine, NOW, lead="IM") for _ in range(11)]
    for key in keys:
        walk_to(engine, key, "proposed", NOW)
    engine.advance_many("open_consultation", keys=keys, actor="koordination", now=NOW)
    notifier = runtime.notifier
    # when the week's digest is made and delivered
    make_digests(engine.store, engine.machines, notifier.directory, MONDAY, domain=notifier.domain)
    transport = MemoryTransport()
    deliver(delivery_of(runtime), transport, MONDAY)
    (sent,) = [m for m in transport.outbox if m["X-Ruhrflow-Key"] == "digest:IM:2019-W29"]
    message = email.message_from_bytes(sent.as_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    text = plain.get_content().replace("\r\n", "\n")
    # then the eleven changes are one row, not eleven lines
    section = text[text.index("ÄNDERUNGEN") : text.index("ANSTEHENDE FRISTEN")]
    assert section.count("11 Vorschläge: Beteiligung eröffnen am 15.07.2019") == 1
    assert "Beteiligung eröffnen" not in section.replace(
        "11 Vorschläge: Beteiligung eröffnen am 15.07.2019", ""
    )
    # and every key stands whole in its row (the submission that week is the other row),
    # no line longer than 78 characters
    rows = section.split("\n15.07.2019  ")[1:]
    assert [row.split("\n")[0].split(":")[0] for row in rows] == [
        "    11  11 Vorschläge", "    11  11 Vorschläge",
    ]  # fmt: skip
    for row in rows:
        assert sorted(re.findall(r"RK-\d\d-\d\d", row)) == sorted(keys)
        assert not re.search(r"RK-(\d\d-?)?\n", row)  # no key broken at a line end
    assert max(len(line) for line in text.splitlines()) <= 78
    # and the HTML part shows them in a table, keys kept whole
    body = html.get_content()
    assert "<table" in body and body.count("11 Vorschläge: Beteiligung eröffnen") == 1
    assert all(f'<span style="white-space:nowrap;">{key}</span>' in body for key in keys)
