"""``ruhrflow demo`` stopped part way (Ctrl-C, an error): the database is as after its last
delivery pass, with the mail of every notice it marked sent, and no second process is left.

Given a run interrupted right after one of its delivery passes committed (its mails still
with the second process, or not yet handed over), when ``run_demo`` returns by the
interruption, then every ``sent`` notice has its text in its row and its file in the
Maildir, nothing is left ``sending`` or without its text, and the writer's process has ended.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from workflow.demo.mail import MailWriter, deliver_pass
from workflow.demo.run import run_demo

pytestmark = pytest.mark.slow  # a fifth of the demo


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_stopped_demo_leaves_every_sent_notice_with_its_mail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]
) -> None:
    passes = 0

    def stops_after_300(*args: Any) -> None:
        nonlocal passes
        deliver_pass(*args)
        passes += 1
        if passes == 300:
            raise stop("stopped")

    monkeypatch.setattr("workflow.demo.clock.deliver_pass", stops_after_300)
    directory = tmp_path / "ruhrflow-demo"
    with pytest.raises(stop):
        run_demo(directory, fresh=True, progress=lambda _line: None)

    _every_sent_notice_has_its_mail(directory)


def test_ctrl_c_while_the_demo_waits_for_its_last_mails_leaves_them_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    take = MailWriter.take
    waits = 0

    def interrupted_once(self: MailWriter, conn: Any, *, wait: bool = False) -> None:
        nonlocal waits
        if wait:
            waits += 1
            if waits == 1:
                raise KeyboardInterrupt
        take(self, conn, wait=wait)

    monkeypatch.setattr(MailWriter, "take", interrupted_once)
    directory = tmp_path / "ruhrflow-demo"
    with pytest.raises(KeyboardInterrupt):
        run_demo(directory, fresh=True, progress=lambda _line: None)

    assert waits == 2
    _every_sent_notice_has_its_mail(directory)


def _every_sent_notice_has_its_mail(directory: Path) -> None:
    with sqlite3.connect(directory / "ruhrflow.db") as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
        sent = conn.execute(
            "SELECT message_id, subject FROM outbox WHERE status = 'sent'"
        ).fetchall()
    assert "sending" not in statuses and statuses["sent"] > 100
    assert all(subject for _, subject in sent)
    files = [p.read_bytes() for p in (directory / "mail" / "new").iterdir()]
    assert len(files) == len(sent)
    assert {m for m, _ in sent} == {m for m, _ in sent if any(m.encode() in f for f in files)}
    assert multiprocessing.active_children() == []
