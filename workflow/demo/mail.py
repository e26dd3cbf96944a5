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
(:meth:`MailWriter.finish`), so the database ends the same.

A run that stops (Ctrl-C, an error) still finishes the writer (:meth:`MailWriter.finish`,
from ``run_demo``'s error path): every notice its committed passes marked ``sent`` gets its
mail and its text, the database is as after its last pass, and no second process is left
behind. The second process ignores SIGINT (the terminal sends it to the whole group: the
demo's process handles it); a second process that died is replaced by this one, which makes
the mails it did not report again (a mail it wrote just before dying may be there twice,
with the same Message-ID, as after a crashed ``deliver``). A notice whose mail cannot be made
(a fault of the demo: its notices are the engine's own) stops the run once the other mails
are written. Only a kill of the demo's own process (SIGKILL, a power loss) can leave sent
notices without their mail (the second process ends with it): the demo's directory is made
again (``--fresh``), not repaired.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
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

    def __call__(
        self, rows: list[dict[str, Any]], now: datetime, errors: list[str]
    ) -> list[dict[str, Any]]:
        """The mail columns of each row (``notice_id`` and :func:`bodies`), once written;
        why a row's mail could not be made goes into ``errors`` (the others are made)."""
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
            except Exception as exc:  # not only ValueError/TransportError: wire's header check
                # A real pass would mark it failed or pending; the demo's notices are the
                # engine's own, so this is a fault of the demo: it stops the run (once the
                # other mails are written), saying which notice.
                errors.append(
                    f"the demo could not send notice {row['id']} ({row['idempotency_key']}): {exc}"
                )
                continue
            made.append({"notice_id": int(row["id"]), **bodies(rendered)})
        return made


_MAKER: _Maker | None = None  # the second process's, set before it forks
BATCH = 100  # notices handed over at once: one hand-over per pass cost more than a mail
Batch = list[tuple[list[dict[str, Any]], datetime]]
Made = tuple[list[dict[str, Any]], list[str]]  # the mails' columns, why some were not made


def _make_batch(batch: Batch) -> Made:
    assert _MAKER is not None
    errors: list[str] = []
    return [made for rows, now in batch for made in _MAKER(rows, now, errors)], errors


def _in_second_process(engines: tuple[Any, ...]) -> None:
    """The second process's start: SIGINT is the demo's process's to handle (the terminal
    sends Ctrl-C to the whole group; the writer is finished from there), and the database
    engines it inherited are left to the demo's process (forgotten here, not closed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for engine in engines:
        engine.dispose(close=False)
    _end_with(_PARENT)


_PARENT = os.getpid()  # the demo's process: set again before each fork (MailWriter)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _end_with(parent: int) -> None:
    """End this process when ``parent`` ends, killed as well (Linux: the fork's platform):
    else a demo killed outright (SIGKILL) would leave it waiting for work for ever."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # gone before the call
        os._exit(1)


def _forks() -> bool:
    # fork shares the renderer as it is, with nothing to pickle and nothing to import again;
    # elsewhere (Windows, macOS's default) the mails are made in this process.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class MailWriter:
    """Makes the mails of sent notices, in a second process where the platform forks.

    :meth:`submit` hands over the rows of one pass; :meth:`take` writes the text of the
    mails made so far into their rows (in the caller's write transaction); :meth:`check`
    raises what kept a mail from being made; :meth:`finish` waits for the rest, writes it
    and ends the second process (also after an error: see the module doc).
    """

    def __init__(self, delivery: Delivery, maildir: Path) -> None:
        global _MAKER, _PARENT
        self.store = delivery.store
        self._maker = _Maker(delivery, maildir)
        self._pending: deque[tuple[Future[Made], Batch]] = deque()
        self._made: list[dict[str, Any]] = []
        self._taking = 0  # of them written by the last take, not known to be committed
        self._errors: list[str] = []
        self._pool: ProcessPoolExecutor | None = None
        self._batch: Batch = []  # not yet handed over
        self._batched = 0  # notices in it
        if _forks():
            _MAKER, _PARENT = self._maker, os.getpid()
            try:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("fork"),
                    initializer=_in_second_process,
                    initargs=((self.store.engine,),),
                )
            except (OSError, ImportError, NotImplementedError):  # no working semaphores
                self._pool = None

    def submit(self, rows: list[dict[str, Any]], now: datetime) -> None:
        """Make and write the mails of ``rows``, sent at ``now``."""
        if self._pool is None:
            self._made.extend(self._maker(rows, now, self._errors))
            return
        self._batch.append((rows, now))
        self._batched += len(rows)
        if self._batched >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            batch, self._batch, self._batched = self._batch, [], 0
            if self._pool is not None:
                try:
                    self._pending.append((self._pool.submit(_make_batch, batch), batch))
                    return
                except (BrokenProcessPool, RuntimeError):  # died, or shut down
                    self._lost()
            self._here(batch)

    def _here(self, batch: Batch) -> None:
        for rows, now in batch:
            self._made.extend(self._maker(rows, now, self._errors))

    def _lost(self) -> None:
        """The second process died: this one makes the mails from now on."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def take(self, conn: Any, *, wait: bool = False) -> None:
        """Write the text of the mails made so far (all, with ``wait``) into their rows."""
        if wait:
            self._flush()
        while self._pending and (wait or self._pending[0][0].done()):
            future, batch = self._pending[0]
            try:
                made, errors = future.result()
            except BrokenProcessPool:  # what it did not report is made again, here
                self._lost()
                made, errors = [], []
                self._here(batch)
            except Exception as failed:  # the batch failed as a whole: made again, here
                made, errors = [], [f"the demo's mail process failed: {failed!r}"]
                self._here(batch)
            self._made.extend(made)
            self._errors.extend(errors)
            self._pending.popleft()  # (stopped before: made again or written twice, alike)
        demo_store.set_bodies(conn, self._made)
        self._taking = len(self._made)

    def taken(self) -> None:
        """The transaction of the last :meth:`take` committed: forget what it wrote (kept
        until then, for :meth:`finish` to write it again after a rollback)."""
        del self._made[: self._taking]
        self._taking = 0

    def check(self) -> None:
        """Raise ``RuntimeError`` for the first notice whose mail could not be made."""
        if self._errors:
            errors, self._errors = self._errors, []
            raise RuntimeError(errors[0])

    def finish(self) -> None:
        """Wait for every mail, write their text into the rows, end the second process.
        Stopped part way (Ctrl-C), it can be called again; :meth:`close` ends the second
        process whatever is left."""
        with self.store.write() as conn:
            self.take(conn, wait=True)
        self.taken()
        self.close()
        self.check()

    def close(self) -> None:
        """End the second process (what it has not made yet is not made)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
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
    with _ctrl_c_after():
        _deliver_pass(delivery, writer, now)
    writer.check()


@contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Ctrl-C arriving inside the block takes effect when it ends: between a pass's commit
    and the hand-over of its sent rows to the writer, an interrupt would leave notices sent
    whose rows nobody holds any more (no mail, no text)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
    if caught:
        raise KeyboardInterrupt


def _deliver_pass(delivery: Delivery, writer: MailWriter, now: datetime) -> None:
    sent: list[dict[str, Any]] = []
    with delivery.store.write() as conn:
        writer.take(conn)
        rows = demo_store.claim_due(conn, now, now + DEFAULT_LEASE)
        for row in rows:
            refused = delivery.refusal(conn, row) if delivery.refusal else None
            if refused is None:
                sent_entry(delivery.append_event, conn, row, now)
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
    writer.taken()
    if sent:
        writer.submit(sent, now)
