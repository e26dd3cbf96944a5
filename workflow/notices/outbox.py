"""The transactional outbox: notices become rows in the caller's transaction.

A notice is stored as what its templates need, not as a finished mail: the recipients
(name + address), the template context (:mod:`workflow.notices.codec`), the deadline of its
``termin.ics`` and the Message-ID derived from the idempotency key. The delivery worker
renders subject, bodies and calendar part (:func:`workflow.notices.delivery.render_row`) and
stores the mail as sent in the row. So a transition pays for a row, not for Jinja and
iCalendar, and a broken template override fails the notice, never the transition. Inserting
a key that exists is a no-op (``INSERT … ON CONFLICT DO NOTHING`` on both dialects), so a
sweep or a transition that runs twice produces one notice. Nothing is sent here.

Statuses: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed until
``lease_until``) → ``sent`` | back to ``pending`` (retry) | ``failed`` (with ``last_error``).
The SQL is in :mod:`workflow.store.outbox`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from notifications.mail.addresses import calendar_uid, make_address, message_id
from notifications.mail.model import CalendarEntry, Recipient
from workflow.notices import codec
from workflow.store import outbox as store
from workflow.store.db import Connection
from workflow.store.installation import installation_id
from workflow.store.outbox import FAILED as FAILED  # the statuses are the store's
from workflow.store.outbox import PENDING as PENDING
from workflow.store.outbox import SENDING as SENDING
from workflow.store.outbox import SENT as SENT
from workflow.store.outbox import STATUSES as STATUSES

if TYPE_CHECKING:
    from notifications.mail.render import Renderer

log = logging.getLogger("ruhrflow.outbox")

NO_RECIPIENT = "no recipient"
DEFAULT_DOMAIN = "ruhrflow.invalid"


@dataclass(frozen=True)
class Notice:
    """One notice, ready to be stored: rendered at delivery from ``kind`` and ``context``."""

    idempotency_key: str
    kind: str
    proposal_id: int | None
    recipients: Sequence[Recipient]
    context: Mapping[str, Any]
    calendar: CalendarEntry | None = None
    # the stored JSON text of ``context`` (exactly codec.dumps of it), when its builder wrote
    # it already (workflow.notices.context.ContextTexts); else written here
    context_text: str | None = None


_NOTICE_FIELDS = tuple(f.name for f in fields(Notice))
_new = object.__new__


def notice(**values: Any) -> Notice:
    """``Notice(**values)``, every field given in the order of the fields: the same instance
    without the frozen dataclass's ``object.__setattr__`` per field (a bulk advance makes one
    per proposal). Anything else is ``Notice(**values)`` itself."""
    if tuple(values) != _NOTICE_FIELDS:
        return Notice(**values)
    made: Notice = _new(Notice)
    made.__dict__.update(values)
    return made


def calendar_to_json(entry: CalendarEntry) -> dict[str, Any]:
    """A calendar entry as the outbox stores it."""
    return {
        "uid": entry.uid,
        "sequence": entry.sequence,
        "summary": entry.summary,
        "description": entry.description,
        "starts_at": codec.encode(entry.starts_at),
    }


def calendar_from_json(value: Mapping[str, Any]) -> CalendarEntry:
    """The inverse of :func:`calendar_to_json`."""
    return CalendarEntry(
        uid=str(value["uid"]),
        sequence=int(value["sequence"]),
        summary=str(value["summary"]),
        description=str(value["description"]),
        starts_at=codec.decode(value["starts_at"]),
    )


def sender_address(sender: str) -> str:
    """The addr-spec of the configured sender (``Name <addr>`` or a bare address)."""
    return parseaddr(sender)[1] or sender


def message_domain(sender: str) -> str:
    """The domain of Message-IDs: the sender's domain."""
    _, _, domain = sender_address(sender).rpartition("@")
    return domain or DEFAULT_DOMAIN


@lru_cache(maxsize=1024)
def _is_address(name: str, address: str) -> bool:
    # The same few dozen functional addresses come back with every notice: check each once.
    try:
        make_address(name, address)
    except ValueError:
        return False
    return True


def _valid(recipients: Sequence[Recipient]) -> tuple[str, tuple[str, ...]]:
    """The valid recipients as the stored JSON text (each address once), and the invalid
    addresses."""
    good: list[dict[str, str]] = []
    bad: list[str] = []
    seen: set[str] = set()
    for r in recipients:
        if not _is_address(r.name, r.address):
            bad.append(r.address)
            continue
        if r.address.lower() not in seen:
            seen.add(r.address.lower())
            good.append({"name": r.name, "address": r.address})
    return (codec.dumps(good) if good else ""), tuple(bad)


class Digests:
    """``message_id``/``calendar_uid`` of :mod:`notifications.mail.addresses` for one
    installation and domain: the same values (SHA-256 of the parts joined by NUL, the first
    32 hex digits), the installation's and kind's part of the text encoded once. A value
    that is no ``str``/``int``, or no installation, goes the library's way."""

    __slots__ = ("_deadline", "_notice", "domain", "installation")

    def __init__(self, domain: str, installation: str) -> None:
        self.domain, self.installation = domain, installation
        self._notice = f"{installation}\x00notice\x00".encode()
        self._deadline = f"{installation}\x00calendar\x00deadline\x00".encode()

    def message_id(self, key: str) -> str:
        if type(key) is not str or not self.installation:
            return message_id(key, self.domain, installation=self.installation)
        digest = hashlib.sha256(self._notice + key.encode()).hexdigest()
        return f"<{digest[:32]}@{self.domain}>"

    def deadline_uid(self, series: int) -> str:
        """``calendar_uid(domain, "deadline", series, installation=…)``."""
        if type(series) is not int or not self.installation:
            return calendar_uid(self.domain, "deadline", series, installation=self.installation)
        digest = hashlib.sha256(self._deadline + int.__repr__(series).encode()).hexdigest()
        return f"{digest[:32]}@{self.domain}"


# A tuple of recipients (immutable: the notifier's, one per roles and proposal kind, handed to
# every such notice) -> (the tuple, kept, so its id stays its own; _valid of it)
_KEPT: dict[int, tuple[Sequence[Recipient], str, tuple[str, ...]]] = {}


def calendar_text(entry: CalendarEntry | None) -> str:
    """:func:`calendar_to_json` as the stored JSON text (``json.dumps`` of it; ``null``)."""
    if entry is None:
        return "null"
    q = codec.quoted
    return (
        f'{{"uid": {q(entry.uid)}, "sequence": {int.__repr__(entry.sequence)}, '
        f'"summary": {q(entry.summary)}, "description": {q(entry.description)}, '
        f'"starts_at": {codec.time_text(entry.starts_at)}}}'
    )


class _Rows:
    """Builds the outbox rows of one command: the recipients and the shared parts of the
    contexts (:class:`~workflow.notices.codec.Dumps`) are encoded once per command."""

    def __init__(self, now: datetime, domain: str, installation: str, *, many: bool) -> None:
        self.now, self.domain, self.installation = now, domain, installation
        self.digests = Digests(domain, installation)
        self.context: Callable[[Any], str] = codec.Dumps() if many else codec.dumps
        self._recipients: dict[int, tuple[Sequence[Recipient], str, tuple[str, ...]]] = {}

    def recipients(self, recipients: Sequence[Recipient]) -> tuple[str, tuple[str, ...]]:
        # a notifier hands the same sequence to every notice of the same roles and proposal
        # kind: by identity (kept, so its id stays its own); a tuple for the life of the
        # process (it cannot change), anything else for this command
        memo = _KEPT if type(recipients) is tuple else self._recipients
        found = memo.get(id(recipients))
        if found is None or found[0] is not recipients:
            if len(memo) >= 1024:
                memo.clear()
            found = (recipients, *_valid(recipients))
            memo[id(recipients)] = found
        return found[1], found[2]

    def __call__(self, notice: Notice) -> dict[str, Any]:
        """The outbox row of ``notice``; ``failed`` with "no recipient" when it has none."""
        recipients, bad = self.recipients(notice.recipients)
        if bad:
            log.warning(
                "notice %s: invalid recipient address(es) left out: %s",
                notice.idempotency_key,
                list(bad),
            )
        error = None
        if not recipients:
            error = NO_RECIPIENT + (f" (invalid: {', '.join(bad)})" if bad else "")
            log.error("notice %s (%s): %s", notice.idempotency_key, notice.kind, error)
        return {
            "idempotency_key": notice.idempotency_key,
            "proposal_id": notice.proposal_id,
            "kind": notice.kind,
            "recipients": recipients or "[]",
            "context": notice.context_text
            if notice.context_text is not None
            else self.context(notice.context),
            "calendar": calendar_text(notice.calendar),
            "status": FAILED if error else PENDING,
            "attempts": 0,
            "next_attempt_at": self.now,
            "last_error": error,
            "message_id": self.digests.message_id(notice.idempotency_key),
            "created_at": self.now,
        }


def enqueue(conn: Connection, notice: Notice, now: datetime, *, domain: str) -> int | None:
    """Insert ``notice`` in the caller's transaction; return its id, None if the key exists.

    A notice without a (valid) recipient is stored as ``failed`` with ``last_error``
    "no recipient", so that ``notices list`` shows it instead of it vanishing.
    """
    new_id = store.insert_notice(
        conn, _Rows(now, domain, installation_id(conn), many=False)(notice)
    )
    if new_id is None:
        log.debug("notice %s exists already", notice.idempotency_key)
        return None
    return int(new_id)


def enqueue_many(
    conn: Connection,
    notices: Sequence[Notice],
    now: datetime,
    *,
    domain: str,
    installation: str | None = None,
) -> None:
    """Insert ``notices`` in the caller's transaction, in one statement (executemany).

    As :func:`enqueue`, but without the ids: keys that exist already are skipped.
    ``installation``: the database's installation id, when the caller has read it.
    """
    if not notices:
        return
    if installation is None:
        installation = installation_id(conn)
    row = _Rows(now, domain, installation, many=len(notices) > 1)
    store.insert_notices(conn, [row(n) for n in notices])


# --- reading and operator actions ---------------------------------------------------------------


def list_notices(
    conn: Connection,
    *,
    status: str | None = None,
    limit: int | None = None,
    renderer: Renderer | None = None,
) -> list[dict[str, Any]]:
    """Notices, newest first, as plain rows (with the proposal key, without the bodies).

    A notice not delivered yet has no stored subject: it is rendered from the context with
    ``renderer`` (default: the shipped templates); one that cannot be rendered says why.
    """
    found = []
    for r in store.notice_rows(conn, status=status, limit=limit):
        row = dict(r)
        context = row.pop("context")
        if row["subject"] is None:
            if renderer is None:
                from workflow.notices.rendering import renderer_for

                renderer = renderer_for()
            row["subject"] = _subject_of(row["kind"], context, renderer)
        found.append(row)
    return found


def _subject_of(kind: str, context: Any, renderer: Renderer) -> str:
    import jinja2

    if context is None:
        return "(no subject)"
    try:
        return renderer.subject(kind, codec.decode(context))
    except (jinja2.TemplateError, ValueError, TypeError, KeyError) as exc:
        # shown in the listing; delivery fails the notice with the same error
        return f"(cannot render the subject: {exc})"


def count_by_status(conn: Connection) -> dict[str, int]:
    """How many notices are in each status (every status listed)."""
    return store.count_by_status(conn)


def retry(
    conn: Connection, now: datetime, *, ids: Sequence[int] = (), all_failed: bool = False
) -> list[int]:
    """Put failed notices back to ``pending`` (attempts reset, due now); return their ids.

    Only ``failed`` rows are touched: a pending, sending or sent notice is left as it is.
    """
    return store.retry_failed(conn, now, ids=ids, all_failed=all_failed)


def statuses_of(conn: Connection, ids: Sequence[int]) -> Mapping[int, str]:
    """The status of each existing notice among ``ids``."""
    return store.statuses_of(conn, ids)
