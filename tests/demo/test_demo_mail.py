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

import os
import signal
import subprocess
import sys
import time
from email.errors import MessageError
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


# What a stop or a fault leaves (the run's error path finishes the writer: workflow/demo/run.py).
# Each pass's notices are handed over at once (BATCH 1), so the second process has them.


def _notices(runtime: Runtime, *keys: str) -> None:
    for key in keys:
        add_proposal(runtime.engine, NOW, key=key)
        runtime.engine.advance(key, "submit", actor="koordination", now=NOW)
        runtime.engine.advance(key, "open_consultation", actor="koordination", now=NOW)


def _each_sent_notice_has_its_mail(runtime: Runtime, maildir: Path) -> list[dict[str, Any]]:
    done = _rows(runtime)
    sent = [r for r in done if r["status"] == SENT]
    assert sent and all(r["status"] == SENT for r in done)
    assert all(r["subject"] and r["body_text"] for r in sent)
    files = [p.read_bytes() for p in (maildir / "new").iterdir()]
    ids = sorted(
        int(r["id"]) for r in sent for f in files if r["message_id"].encode() in f
    )  # each file names its notice's Message-ID
    assert ids == sorted(int(r["id"]) for r in sent)
    return sent


def _second_process(writer: MailWriter) -> Any:
    assert writer._pool is not None
    (process,) = writer._pool._processes.values()
    return process


def test_the_second_process_leaves_ctrl_c_to_the_demo(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_mail, "_forks", lambda: True)
    monkeypatch.setattr(demo_mail, "BATCH", 1)
    delivery = runtime.delivery()
    writer = MailWriter(delivery, tmp_path / "mail")
    _notices(runtime, "RK-03-01")
    deliver_pass(delivery, writer, NOW)
    process = _second_process(writer)
    with runtime.store.write() as conn:
        writer.take(conn, wait=True)  # the second process has started and made them

    os.kill(process.pid, signal.SIGINT)  # Ctrl-C goes to the terminal's whole group
    _notices(runtime, "RK-03-02")
    deliver_pass(delivery, writer, NOW)
    writer.finish()

    _each_sent_notice_has_its_mail(runtime, tmp_path / "mail")
    assert process.exitcode == 0  # it went on, and ended when the writer finished


def test_the_mails_a_dead_second_process_did_not_report_are_made_here(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_mail, "_forks", lambda: True)
    monkeypatch.setattr(demo_mail, "BATCH", 1)
    delivery = runtime.delivery()
    writer = MailWriter(delivery, tmp_path / "mail")
    _notices(runtime, "RK-03-01")
    deliver_pass(delivery, writer, NOW)
    process = _second_process(writer)
    with runtime.store.write() as conn:
        writer.take(conn, wait=True)  # the second process has started and made them

    os.kill(process.pid, signal.SIGKILL)
    process.join()
    _notices(runtime, "RK-03-02")
    deliver_pass(delivery, writer, NOW)
    writer.finish()

    _each_sent_notice_has_its_mail(runtime, tmp_path / "mail")


@pytest.mark.parametrize("forked", [True, False], ids=["second process", "this process"])
def test_ctrl_c_right_after_a_pass_commits_loses_no_mail(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setattr(demo_mail, "_forks", lambda: forked)
    _notices(runtime, "RK-03-01", "RK-03-02")
    delivery = runtime.delivery()
    writer = MailWriter(delivery, tmp_path / "mail")
    committed = writer.taken  # called once the pass's transaction has committed

    def interrupted() -> None:
        committed()
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C before the sent rows reach the writer

    monkeypatch.setattr(writer, "taken", interrupted)
    with pytest.raises(KeyboardInterrupt):
        deliver_pass(delivery, writer, NOW)
    monkeypatch.setattr(writer, "taken", committed)
    writer.finish()  # as the run's error path does
    _each_sent_notice_has_its_mail(runtime, tmp_path / "mail")


@pytest.mark.parametrize("forked", [True, False], ids=["second process", "this process"])
@pytest.mark.parametrize(
    "failure",
    [ValueError("no template"), KeyError("calendar"), MessageError("header")],
    ids=["ValueError", "KeyError", "MessageError"],  # any error, not only the foreseen ones
)
def test_a_mail_that_cannot_be_made_stops_the_run_after_the_others_are_written(
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forked: bool,
    failure: Exception,
) -> None:
    monkeypatch.setattr(demo_mail, "_forks", lambda: forked)
    _notices(runtime, "RK-03-01", "RK-03-02")
    bad = _rows(runtime)[0]["id"]

    def fails_for_one(row: Any, *args: Any) -> Any:
        if row["id"] == bad:
            raise failure
        return render_row(row, *args)

    monkeypatch.setattr("workflow.demo.mail.render_row", fails_for_one)
    delivery = runtime.delivery()
    writer = MailWriter(delivery, tmp_path / "mail")
    with pytest.raises(RuntimeError, match=f"could not send notice {bad} "):
        deliver_pass(delivery, writer, NOW)
        writer.finish()
    writer.finish()  # as the run's error path does

    done = [r for r in _rows(runtime) if r["id"] != bad]
    assert done and all(r["status"] == SENT and r["subject"] for r in done)
    files = [p.read_bytes() for p in (tmp_path / "mail" / "new").iterdir()]
    assert len(files) == len(done)


_KILLED_OUTRIGHT = """
import os, signal, multiprocessing
from concurrent.futures import ProcessPoolExecutor
from workflow.demo import mail
mail._PARENT = os.getpid()
pool = ProcessPoolExecutor(
    1, mp_context=multiprocessing.get_context("fork"),
    initializer=mail._in_second_process, initargs=((),),
)
print(pool.submit(os.getpid).result(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not demo_mail._forks(), reason="the second process is forked on Linux")
def test_the_second_process_ends_when_the_demo_is_killed_outright(tmp_path: Path) -> None:
    said = tmp_path / "pid"
    with said.open("w") as out:  # a file: a pipe would wait for every process holding it
        demo = subprocess.run([sys.executable, "-c", _KILLED_OUTRIGHT], stdout=out, timeout=60)
    assert demo.returncode == -signal.SIGKILL
    second = int(said.read_text())
    for _ in range(200):  # SIGTERM on its parent's death; gone, or a zombie not yet reaped
        if not _running(second):
            break
        time.sleep(0.05)
    else:
        os.kill(second, signal.SIGKILL)
        pytest.fail("the second process outlived the demo")


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
