"""The demo's delivery pass (workflow/demo/mail.py), on SQLite and PostgreSQL: the rows and
mails of ``deliver``, the mails made in a second process or in this one.

Given notices the engine wrote and one row changed past it (a stranger among its
recipients), when the demo's pass runs and its writer finishes, then every notice is claimed
once, the stranger's is failed with the provenance check's reason and no mail, and every
other is sent at the pass's moment with its ``notice_sent`` entry, its row keeping the mail
as ``deliver`` keeps it (subject, bodies, calendar part) and the Maildir holding the bytes
``MaildirTransport`` writes for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import select, update
from support import add_proposal

from notifications.mail.mime import name_and_address
from workflow.app.runtime import Runtime
from workflow.demo import mail as demo_mail
from workflow.demo.mail import MailWriter, deliver_pass
from workflow.notices.delivery import bodies, message_from_row, render_row
from workflow.notices.outbox import FAILED, SENT
from workflow.store.schema import history, outbox

STRANGER = {"name": "Koordinierungsstelle", "address": "zugang@evil.example"}


def _rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.read() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


@pytest.mark.parametrize("forked", [True, False], ids=["second process", "this process"])
def test_the_pass_writes_the_rows_and_mails_of_deliver(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setattr(demo_mail, "_forks", lambda: forked)
    engine = runtime.engine
    keys = [add_proposal(engine, NOW, key=f"RK-03-0{i}") for i in (1, 2)]
    for key in keys:
        engine.advance(key, "submit", actor="koordination", now=NOW)
        engine.advance(key, "open_consultation", actor="koordination", now=NOW)
    queued = _rows(runtime)
    assert len(queued) >= 4 and any(r["calendar"] is not None for r in queued)
    forged = queued[-1]["id"]
    with runtime.store.write() as conn:
        conn.execute(update(outbox).where(outbox.c.id == forged).values(recipients=[STRANGER]))
    delivery = runtime.delivery()
    writer = MailWriter(delivery, tmp_path / "mail")

    deliver_pass(delivery, writer, NOW)
    writer.finish()

    done = _rows(runtime)
    assert [r["attempts"] for r in done] == [1] * len(done)
    assert all(r["lease_until"] is None for r in done)
    failed = [r for r in done if r["status"] == FAILED]
    assert [r["id"] for r in failed] == [forged]
    assert failed[0]["last_error"].startswith(
        "cannot build the message: not a notice the engine wrote: "
    )
    assert failed[0]["body_text"] is None
    sent = [r for r in done if r["status"] == SENT]
    assert len(sent) == len(done) - 1
    expected_files = set()
    organizer = name_and_address(delivery.sender)
    for row in sent:
        assert row["sent_at"] == NOW and row["last_error"] is None
        claimed = {**row, "subject": None, "body_text": None, "body_html": None}
        rendered = render_row(claimed, delivery.renderer, organizer)
        assert {k: row[k] for k in bodies(rendered)} == bodies(rendered)
        message = message_from_row(
            claimed, sender=delivery.sender, date=NOW, rendered=rendered,
            reply_to=delivery.reply_to,
        )  # fmt: skip
        expected_files.add(message.as_bytes(policy=message.policy.clone(linesep="\n")))
    written = {p.read_bytes() for p in (tmp_path / "mail" / "new").iterdir()}
    assert written == expected_files and len(written) == len(sent)
    with runtime.store.read() as conn:
        entries = conn.execute(
            select(history.c.kind, history.c.data).where(
                history.c.kind.in_(["notice_sent", "notice_failed"])
            )
        ).all()
    notices = {(kind, data["notice"]) for kind, data in entries}
    with_proposal = {r["id"] for r in sent if r["proposal_id"] is not None}
    assert notices == {("notice_sent", i) for i in with_proposal} | {("notice_failed", forged)}
