"""The demo's mail: one writer for the Maildir, and delivery passes whose mails are made in
a second process while the run goes on.

``MaildirTransport`` (through :class:`mailbox.Maildir`) syncs every message to the disk before
delivery marks it sent: a real run must not lose a mail it has recorded as sent. The demo is
made again (``--fresh``) rather than recovered, so its writer writes each file (``tmp/``, then
renamed into ``new/``, as Maildir readers expect), and the run syncs once, when it is over
(:meth:`~workflow.demo.clock.Simulation.finish`). The bytes of each file are those
``MaildirTransport`` writes: the message in its policy with the local line ending.

Rendering, building and writing a mail is half of the demo's work, and nothing the run does
next depends on it: the history entry of a sent notice names the notice, not its text. So
:func:`deliver_pass` claims, checks and marks the due notices exactly as
:func:`~workflow.notices.delivery.deliver` does, in the same order, and hands the mails to a
:class:`MailWriter`, which makes them in a second process (where the platform forks; else
right away, in this one). The text of each mail (subject, bodies, calendar part) goes into
its outbox row when the writer has made it, at the latest when the run ends
(:meth:`MailWriter.finish`), so the database ends the same. A run that crashes may leave
sent notices without their text, or rows ``sending``: the demo's directory is made again
(``--fresh``), not repaired.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import socket
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from notifications.mail.mime import name_and_address
from notifications.mail.transport import MaildirTransport, TransportError
from notifications.mail.wire import message_bytes
from workflow.notices.delivery import (
    DEFAULT_LEASE,
    Delivery,
    bodies,
    mark_outcome,
    message_from_row,
    not_the_engines,
    render_row,
    sent_entry,
)
from workflow.notices.rendering import renderer_for
from workflow.store import demo as demo_store


class DemoMaildir(MaildirTransport):
    """Writes each message as one file into the Maildir at ``path`` (created if missing),
    as :class:`MaildirTransport` does (its line endings), without its fsync per message."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)  # the Maildir's folders, the message policy's LF twin
        host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        self._unique = f"P{os.getpid()}Q{{}}.{host}"
        self._count = itertools.count(1)

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        data = message_bytes(message, self._lf_policy(message.policy))
        now = time.time()
        name = f"{int(now)}.M{int(now % 1 * 1e6)}" + self._unique.format(next(self._count))
        temporary = self.path / "tmp" / name
        try:
            with open(temporary, "xb") as fh:
                fh.write(data)
            os.replace(temporary, self.path / "new" / name)
        except OSError as exc:
            raise TransportError(
                f"cannot write to Maildir {self.path}: {exc}", temporary=True, unreachable=True
            ) from exc


class _Maker:
    """Renders, builds and writes the mails of sent notices (as ``deliver`` does each)."""

    def __init__(self, delivery: Delivery, maildir: Path) -> None:
        self.renderer = delivery.renderer if delivery.renderer is not None else renderer_for()
        self.sender = delivery.sender
        self.reply_to = delivery.reply_to
        self.organizer = name_and_address(delivery.sender)
        self.maildir = maildir
        self.transport: DemoMaildir | None = None  # made where the mails are written

    def __call__(self, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
        """The mail columns of each row (``notice_id`` and :func:`bodies`), once written."""
        if self.transport is None:  # in the process that makes the mails
            self.transport = DemoMaildir(self.maildir)
            self.renderer.stop_reloading()  # the demo edits no template while it runs
        made = []
        for row in rows:
            try:
                rendered = render_row(row, self.renderer, self.organizer)
                message = message_from_row(
                    row, sender=self.sender, date=now, rendered=rendered, reply_to=self.reply_to
                )
                self.transport.send(message)
            except (ValueError, TransportError) as exc:
                # A real pass would mark it failed or pending; the demo's notices are the
                # engine's own, so this is a fault of the demo: stop it, say which notice.
                raise RuntimeError(
                    f"the demo could not send notice {row['id']} ({row['idempotency_key']}): {exc}"
                ) from exc
            made.append({"notice_id": int(row["id"]), **bodies(rendered)})
        return made


_MAKER: _Maker | None = None  # the second process's, set before it forks
BATCH = 100  # notices handed over at once: one hand-over per pass cost more than a mail


def _make_batch(batch: list[tuple[list[dict[str, Any]], datetime]]) -> list[dict[str, Any]]:
    assert _MAKER is not None
    return [made for rows, now in batch for made in _MAKER(rows, now)]


def _forks() -> bool:
    # fork shares the renderer as it is, with nothing to pickle and nothing to import again;
    # elsewhere (Windows, macOS's default) the mails are made in this process.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class MailWriter:
    """Makes the mails of sent notices, in a second process where the platform forks.

    :meth:`submit` hands over the rows of one pass; :meth:`take` writes the text of the
    mails made so far into their rows (in the caller's write transaction); :meth:`finish`
    waits for the rest and writes it.
    """

    def __init__(self, delivery: Delivery, maildir: Path) -> None:
        global _MAKER
        self.store = delivery.store
        self._maker = _Maker(delivery, maildir)
        self._pending: deque[Future[list[dict[str, Any]]]] = deque()
        self._made: list[dict[str, Any]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._batch: list[tuple[list[dict[str, Any]], datetime]] = []  # not yet handed over
        self._batched = 0  # notices in it
        if _forks():
            _MAKER = self._maker
            try:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            except (OSError, ImportError, NotImplementedError):  # no working semaphores
                self._pool = None

    def submit(self, rows: list[dict[str, Any]], now: datetime) -> None:
        """Make and write the mails of ``rows``, sent at ``now``."""
        if self._pool is None:
            self._made.extend(self._maker(rows, now))
            return
        self._batch.append((rows, now))
        self._batched += len(rows)
        if self._batched >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pool is not None and self._batch:
            self._pending.append(self._pool.submit(_make_batch, self._batch))
            self._batch, self._batched = [], 0

    def take(self, conn: Any, *, wait: bool = False) -> None:
        """Write the text of the mails made so far (all, with ``wait``) into their rows."""
        if wait:
            self._flush()
        while self._pending and (wait or self._pending[0].done()):
            self._made.extend(self._pending.popleft().result())
        demo_store.set_bodies(conn, self._made)
        self._made.clear()

    def finish(self) -> None:
        """Wait for every mail, write their text into the rows, end the second process."""
        with self.store.write() as conn:
            self.take(conn, wait=True)
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def deliver_pass(delivery: Delivery, writer: MailWriter, now: datetime) -> None:
    """One delivery pass at ``now`` as :func:`~workflow.notices.delivery.deliver` makes it,
    in one transaction, with the mails made by ``writer`` (see the module doc).

    Every notice due is claimed (one attempt more, a lease) and checked (provenance), oldest
    first, as ``deliver`` claims one after the other; then, in the same order, a notice the
    check refuses is marked ``failed`` with its reason, and the others ``sent`` at ``now``
    with their ``notice_sent`` entries. The demo is the database's one writer, so nothing
    can claim between; its notices are all the engine's own, so a failing history entry
    fails the run (``deliver`` would log it and note it on the row).
    """
    sent: list[dict[str, Any]] = []
    with delivery.store.write() as conn:
        writer.take(conn)
        rows = demo_store.claim_due(conn, now, now + DEFAULT_LEASE)
        for row in rows:
            refused = delivery.refusal(conn, row) if delivery.refusal else None
            if refused is None:
                sent_entry(delivery.append_event, conn, row, now, demo_store.proposal_row)
                sent.append(row)
            else:
                error = TransportError(
                    f"cannot build the message: {not_the_engines(refused)}", temporary=False
                )
                mark_outcome(
                    delivery.append_event, conn, row, None, error, now, delivery.max_attempts,
                    random.Random(),
                )  # fmt: skip
        demo_store.mark_sent(conn, [int(r["id"]) for r in sent], now)
    if sent:
        writer.submit(sent, now)
