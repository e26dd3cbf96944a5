"""The outbox worker: claim due notices, send them outside any transaction, record the outcome.

One notice at a time:

1. claim (a short write transaction): the oldest ``pending`` row due at ``now``, or a
   ``sending`` row whose lease has expired (its worker died between claim and mark), is set
   to ``sending`` with ``lease_until = now + lease`` and one more attempt. PostgreSQL takes
   the row ``FOR UPDATE SKIP LOCKED``, so workers claim disjoint rows; SQLite serialises the
   claims with ``BEGIN IMMEDIATE``;
2. send with the transport, outside the transaction;
3. mark (a second short transaction): ``sent``; or, on a temporary error, ``pending`` again
   with exponential backoff and jitter until ``max_attempts``, then ``failed``; a permanent
   error is ``failed`` at once. The outcome goes into the proposal's history
   (``notice_sent``/``notice_failed``; retries only into the log); notices without a
   proposal (the digest) are only logged.

Step 3 of one notice and step 1 of the next run in one transaction (one commit per notice
instead of two); the next notice is claimed only after the previous one is marked, so a
worker never has more than one notice sent but not marked.

Nothing after the transport accepted a message can make it go out again: step 3 marks the row
``sent`` first and writes the ``notice_sent`` history entry in a savepoint, so a failure there
(an old definition that does not load, a broken chain) is logged and noted on the row while the
mark commits. Only a crash, or a lost database, between the transport's acceptance and that
commit (milliseconds) leaves the row ``sending``; after the lease it is sent again — at most one
duplicate, with the same Message-ID (derived from the idempotency key), so mail systems and
readers can recognise it. Closing that window would take a transport that joins our
transaction (two-phase commit), which SMTP is not.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import jinja2

from notifications.mail.ics import calendar_bytes
from notifications.mail.mime import CALENDAR_FILENAME, build_message, name_and_address
from notifications.mail.model import Attachment, Recipient, RenderedNotice
from notifications.mail.render import Renderer
from notifications.mail.transport import (
    Transport,
    TransportError,
)
from workflow.engine.changes import AppendEvent
from workflow.notices import codec
from workflow.notices.outbox import (
    FAILED,
    NO_RECIPIENT,
    PENDING,
    SENDING,
    SENT,
    calendar_from_json,
)
from workflow.notices.rendering import renderer_for
from workflow.process.vocabulary import BERLIN
from workflow.store import outbox as outbox_store
from workflow.store.db import Connection, Store
from workflow.version import MAILER

log = logging.getLogger("ruhrflow.delivery")

DELIVERY_ACTOR = "ruhrflow"
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE = timedelta(minutes=10)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
# After this many failures in a row to reach the transport at all, it is taken to be down: the
# pass stops, and the remaining notices keep their attempts for a later pass. A server that
# answers with a temporary refusal (greylisting, 451) is up: the pass goes on.
STOP_AFTER_TEMPORARY = 3
DEFAULT_SENDER = "koordination@ruhrflow.invalid"
CALENDAR_CONTENT_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"


class RandomSource(Protocol):
    """What the backoff needs of a random generator (``random.Random`` fits)."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class DeliveryProblem:
    """A notice this pass could not deliver: ``failed`` for good, or back to ``pending``."""

    notice_id: int
    idempotency_key: str
    status: str  # failed | pending
    error: str  # one line: the transport's message with the server's status code
    unreachable: bool  # the transport could not be reached at all


@dataclass
class DeliveryCounts:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0  # temporary failure, back to pending
    failed: int = 0  # permanently failed now
    stopped_early: bool = False  # the transport looked unreachable
    problems: list[DeliveryProblem] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        """Notices this pass tried to send."""
        return self.sent + self.retried + self.failed

    @property
    def unreachable(self) -> bool:
        """The transport could not be reached (connection refused or lost, timeout).

        A server's temporary refusal (4xx, e.g. greylisting) does not count: it answered.
        """
        return any(p.unreachable for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {**asdict(self), "claimed": self.claimed, "unreachable": self.unreachable}


def backoff(attempts: int, rng: RandomSource, *, base: timedelta = BACKOFF_BASE,
            cap: timedelta = BACKOFF_CAP) -> timedelta:  # fmt: skip
    """The wait after the ``attempts``-th failed attempt: exponential, capped, jittered.

    ``base * 2**(attempts-1)``, at most ``cap``, then "equal jitter": a uniform value between
    half of it and all of it, so that many notices failing together do not retry together.
    """
    exponent = max(0, attempts - 1)
    ceiling = min(cap, base * (2 ** min(exponent, 30)))
    jittered: timedelta = ceiling / 2 + ceiling / 2 * rng.random()
    return jittered


@dataclass(frozen=True)
class RenderedRow:
    """The mail of one outbox row: its bodies and its attachments as the row stores them."""

    rendered: RenderedNotice
    attachments: list[dict[str, str]]


def render_row(
    row: Mapping[str, Any], renderer: Renderer, organizer: tuple[str, str] | None = None
) -> RenderedRow:
    """Render a stored notice: from its context, or as stored (rows enqueued before 0004).

    The ``termin.ics`` is stamped with the row's ``created_at``, so that rendering the same
    row twice (a retry, a duplicate after a crash) gives the same bytes; its ORGANIZER is
    ``organizer`` (the configured sender's name and address). Raises ``ValueError``
    when the row cannot be rendered (a template error, a damaged context).
    """
    if row["body_text"] is not None:
        return RenderedRow(
            RenderedNotice(row["subject"], row["body_text"], row["body_html"]),
            list(row["attachments"] or []),
        )
    if row["context"] is None:
        raise ValueError("the notice has neither a body nor a context")
    try:
        rendered = renderer.render(str(row["kind"]), codec.decode(row["context"]))
    except (jinja2.TemplateError, TypeError, KeyError) as exc:
        raise ValueError(f"template error in {row['kind']}: {exc}") from exc
    attachments: list[dict[str, str]] = []
    if row["calendar"] is not None:
        entry = calendar_from_json(row["calendar"])
        content = calendar_bytes(
            entry, method="PUBLISH", stamp=row["created_at"], organizer=organizer
        )
        attachments.append(
            {
                "filename": CALENDAR_FILENAME,
                "content_type": CALENDAR_CONTENT_TYPE,
                "content": content.decode("utf-8"),
            }
        )
    return RenderedRow(rendered, attachments)


def message_from_row(
    row: Mapping[str, Any],
    *,
    sender: str,
    date: datetime,
    renderer: Renderer | None = None,
    rendered: RenderedRow | None = None,
    reply_to: str = "",
) -> EmailMessage:
    """Build the email of a stored notice (same Message-ID as recorded in the row).

    ``rendered`` is the row rendered already (:func:`render_row`); else it is rendered here
    with ``renderer`` (default: the shipped templates).
    """
    recipients = [Recipient(r["name"], r["address"]) for r in row["recipients"]]
    if not recipients:
        raise ValueError(NO_RECIPIENT)
    domain = str(row["message_id"]).strip("<>").rpartition("@")[2]
    if rendered is None:
        rendered = render_row(row, renderer or renderer_for())
    attachments = []
    for part in rendered.attachments:
        maintype, _, rest = str(part["content_type"]).partition("/")
        subtype, *params_text = (p.strip() for p in rest.split(";"))
        params = dict(p.split("=", 1) for p in params_text if "=" in p)
        params.pop("charset", None)
        attachments.append(
            Attachment(
                filename=str(part["filename"]),
                maintype=maintype,
                subtype=subtype,
                params=(*params.items(), ("charset", "utf-8")),
                content=str(part["content"]).encode("utf-8"),
            )
        )
    return build_message(
        sender=sender,
        reply_to=reply_to,
        recipients=recipients,
        rendered=rendered.rendered,
        idempotency_key=row["idempotency_key"],
        date=date.astimezone(BERLIN),  # the Date header in local time
        domain=domain,
        attachments=attachments,
        message_id=str(row["message_id"]),  # as recorded when the notice was stored
        mailer=MAILER,
    )


def claim(conn: Connection, now: datetime, lease: timedelta) -> dict[str, Any] | None:
    """Claim the next due notice in the caller's write transaction (see the module doc)."""
    row = outbox_store.next_due(conn, now)
    if row is None:
        return None
    if row["status"] == SENDING:
        log.warning("notice %s: lease expired while sending (crash?); sending again", row["id"])
    if not outbox_store.claim(conn, row["id"], now, now + lease):
        return None
    return {**row, "status": SENDING, "attempts": row["attempts"] + 1}


@dataclass(frozen=True)
class Delivery:
    """What a delivery pass uses: the store of the outbox, the engine's ``append_event``
    (outcomes go into the proposal's history), and how mails are made.

    ``renderer`` None is the shipped templates; the wiring
    (:meth:`workflow.app.runtime.Runtime.delivery`) fills these from ``[mail]``.
    """

    store: Store
    append_event: AppendEvent
    sender: str = DEFAULT_SENDER
    reply_to: str = ""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    renderer: Renderer | None = None
    # Why a claimed row must not be sent (not a notice the engine wrote), or None: the row is
    # then marked failed with that reason (workflow/notices/provenance.py; the wiring sets it).
    refusal: Callable[[Connection, Mapping[str, Any]], str | None] | None = None


def deliver(
    delivery: Delivery,
    transport: Transport,
    now: datetime,
    *,
    limit: int | None = None,
    rng: RandomSource | None = None,
    max_attempts: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    sender: str | None = None,
) -> DeliveryCounts:
    """Deliver the notices due at ``now`` (at most ``limit``); return what happened.

    ``max_attempts`` and ``sender`` override those of ``delivery``. ``rng`` is the jitter's
    random source (``random.Random(seed)`` in tests). Exceptions other than
    :class:`TransportError` from the transport propagate (the row stays ``sending`` until
    its lease expires, as after a crash).

    The outcome of one notice and the claim of the next share a transaction (step 3 of one,
    step 1 of the next; one commit instead of two per notice). Still one claim per
    transaction, and a notice is marked before the next is sent, so at most one notice per
    worker is ever sent but not yet marked, as before.
    """
    max_attempts = max_attempts or delivery.max_attempts
    sender = sender or delivery.sender
    reply_to = delivery.reply_to
    renderer = delivery.renderer if delivery.renderer is not None else renderer_for()
    append_event = delivery.append_event
    rng = rng if rng is not None else random.Random()
    counts = DeliveryCounts()
    temporary_in_a_row = 0
    attempted: tuple[Mapping[str, Any], RenderedRow | None, TransportError | None] | None = None
    while True:
        row: dict[str, Any] | None = None
        refused: str | None = None
        with delivery.store.write() as conn:
            if attempted is not None:
                outcome = mark_outcome(append_event, conn, *attempted, now, max_attempts, rng)
                last, _, last_error = attempted
                if outcome == SENT:
                    counts.sent += 1
                elif outcome == PENDING:
                    counts.retried += 1
                else:
                    counts.failed += 1
                if last_error is not None:
                    counts.problems.append(
                        DeliveryProblem(
                            int(last["id"]), str(last["idempotency_key"]), outcome,
                            str(last_error), last_error.unreachable,
                        )
                    )  # fmt: skip
                unreachable = last_error is not None and last_error.unreachable
                temporary_in_a_row = temporary_in_a_row + 1 if unreachable else 0
            if temporary_in_a_row >= STOP_AFTER_TEMPORARY:
                counts.stopped_early = True
                log.warning(
                    "the transport was unreachable %d times in a row: stopping this pass",
                    temporary_in_a_row,
                )
            elif limit is None or counts.claimed < limit:
                row = claim(conn, now, lease)
                refused = delivery.refusal(conn, row) if row and delivery.refusal else None
        if row is None:
            break
        error: TransportError | None = None
        rendered: RenderedRow | None = None
        try:
            if refused is not None:
                raise ValueError(not_the_engines(refused))
            rendered = render_row(row, renderer, name_and_address(sender))
            message = message_from_row(
                row, sender=sender, date=now, rendered=rendered, reply_to=reply_to
            )
        except ValueError as exc:
            error = TransportError(f"cannot build the message: {exc}", temporary=False)
        else:
            try:
                transport.send(message)
            except TransportError as exc:
                error = exc
        attempted = (row, rendered, error)
    return counts


def mark_outcome(
    append_event: AppendEvent,
    conn: Connection,
    row: Mapping[str, Any],
    rendered: RenderedRow | None,
    error: TransportError | None,
    now: datetime,
    max_attempts: int,
    rng: RandomSource,
) -> str:
    """Record the outcome of one attempt in ``conn``'s transaction; return the new status.

    A sent notice keeps the mail as sent (bodies and attachments) in its row.
    """
    if error is None:
        assert rendered is not None  # nothing was sent without being rendered
        record_sent(append_event, conn, row, now, rendered)
        return SENT
    notice_id, attempts = int(row["id"]), int(row["attempts"])
    values: dict[str, Any]
    if error.temporary and attempts < max_attempts:
        status = PENDING
        values = {"status": PENDING, "lease_until": None, "last_error": str(error),
                  "next_attempt_at": now + backoff(attempts, rng)}  # fmt: skip
    else:
        status = FAILED
        values = {"status": FAILED, "lease_until": None, "last_error": str(error)}
    outbox_store.mark(conn, notice_id, values)
    if status == PENDING:
        log.info("notice %s: attempt %d failed, retry at %s: %s", notice_id, attempts,
                 values["next_attempt_at"].isoformat(), error)  # fmt: skip
    else:
        log.error("notice %s failed after %d attempt(s): %s", notice_id, attempts, error)
        _record(append_event, conn, row, now, "notice_failed", {"error": str(error)})
    return status


def not_the_engines(refused: str) -> str:
    """Why a notice the provenance check refused is not sent (``last_error`` says it after
    ``cannot build the message: ``)."""
    return f"not a notice the engine wrote: {refused}"


def bodies(rendered: RenderedRow | None) -> dict[str, Any]:
    """The columns a sent notice keeps of its mail: subject, bodies, attachments (all None
    for ``None``: not yet known, see :func:`record_sent`)."""
    if rendered is None:
        return dict.fromkeys(("subject", "body_text", "body_html", "attachments"))
    return {
        "subject": rendered.rendered.subject,
        "body_text": rendered.rendered.text,
        "body_html": rendered.rendered.html,
        "attachments": rendered.attachments,
    }


def record_sent(
    append_event: AppendEvent,
    conn: Connection,
    row: Mapping[str, Any],
    now: datetime,
    rendered: RenderedRow | None,
) -> None:
    """Mark a notice the transport accepted ``sent`` at ``now``, with its mail as sent
    (:func:`bodies`), and write its ``notice_sent`` entry, in ``conn``'s transaction.

    ``rendered`` None leaves the mail's columns empty, for a caller that renders and sends
    the mail elsewhere and fills them in afterwards (the demo, workflow/demo/mail.py).
    """
    values = {"status": SENT, "sent_at": now, "lease_until": None, "last_error": None,
              **bodies(rendered)}  # fmt: skip
    outbox_store.mark(conn, int(row["id"]), values)
    _record_sent(append_event, conn, row, now)


def sent_entry(
    append_event: AppendEvent,
    conn: Connection,
    row: Mapping[str, Any],
    now: datetime,
) -> None:
    """The ``notice_sent`` entry of a sent notice, in ``conn``'s transaction, without the
    savepoint of :func:`record_sent`: what fails here fails the caller's transaction (the
    demo's, whose notices are all the engine's own: workflow/demo/mail.py)."""
    _record(append_event, conn, row, now, "notice_sent", {})


def _record_sent(
    append_event: AppendEvent, conn: Connection, row: Mapping[str, Any], now: datetime
) -> None:
    """The ``notice_sent`` entry of a notice the transport accepted, in a savepoint.

    The notice is marked ``sent`` before this, in the same transaction. Whatever fails here
    (the proposal's definition, its chain, a trigger) rolls back the savepoint only: the mark
    commits, so the mail is never sent again because its entry could not be written. The
    failure goes into the log (WARNING) and the row's ``last_error``, for an operator.
    """
    try:
        with conn.begin_nested():
            _record(append_event, conn, row, now, "notice_sent", {})
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        log.warning("notice %s was sent; its history entry could not be written (it is not"
                    " sent again): %s", row["id"], reason)  # fmt: skip
        outbox_store.note_error(conn, int(row["id"]), f"sent; history entry missing: {reason}")


def _record(
    append_event: AppendEvent,
    conn: Connection,
    row: Mapping[str, Any],
    now: datetime,
    kind: str,
    extra: Mapping[str, Any],
) -> None:
    data = {"notice": int(row["id"]), "kind": row["kind"], "message_id": row["message_id"],
            "attempts": int(row["attempts"]), **extra}  # fmt: skip
    if row["proposal_id"] is None:
        log.info("%s: notice %s (%s) %s", kind, row["id"], row["kind"], row["idempotency_key"])
        return
    # On PostgreSQL the row is locked: append_event bumps the row version, no lost update.
    proposal = outbox_store.proposal_of_notice(conn, row["proposal_id"])
    append_event(
        conn, proposal, kind=kind, trigger="deliver", actor=DELIVERY_ACTOR, now=now, data=data
    )
