"""Assemble a rendered notice into an email message (MIME) ready for a transport."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from email import quoprimime
from email.message import EmailMessage
from email.utils import format_datetime

from notifications.mail.addresses import DOMAIN, make_address
from notifications.mail.addresses import message_id as make_message_id
from notifications.mail.headers import POLICY, Verbatim, address_list, unstructured
from notifications.mail.ics import calendar_bytes
from notifications.mail.model import Attachment, CalendarEntry, Recipient, RenderedNotice
from notifications.mail.sanitize import one_line
from notifications.mail.transport import Envelope, NoticeMessage

CALENDAR_FILENAME = "termin.ics"
# "=_" can occur in neither quoted-printable nor base64 text, the only encodings of the parts,
# so these boundaries never occur inside a part, and neither is a prefix of the other. Fixed
# rather than random, so that the parsed Content-Type headers are shared (headers.POLICY).
MIXED_BOUNDARY = "=_ruhrflow_mixed"
ALTERNATIVE_BOUNDARY = "=_ruhrflow_alternative"

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_MESSAGE_ID = re.compile(
    r"<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?>"
)
# MIME type and parameter names (RFC 2045 tokens) and values that need no quoting beyond "…".
_TOKEN = re.compile(r"[A-Za-z0-9!#$&.+^_-]{1,40}")
_VALUE = re.compile(r"[A-Za-z0-9 ._+-]{1,60}")
_MAX_BODY_LINE = POLICY.max_line_length or 78
_MAX_PLAIN_VALUE = 78 - len("Content-Disposition: ")  # one header line, no folding needed


def build_message(
    *,
    sender: str,
    recipients: Sequence[Recipient],
    rendered: RenderedNotice,
    idempotency_key: str,
    date: datetime,
    calendar: CalendarEntry | None = None,
    domain: str = "ruhrflow.invalid",
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
    installation: str = "",
    reply_to: str = "",
    mailer: str = "",
) -> NoticeMessage:
    """Build the email for one notice.

    ``mailer`` names the software in an ``X-Mailer`` header when given (``ruhrflow 0.3.0``).

    Structure: ``multipart/mixed`` holding a ``multipart/alternative`` (text/plain and text/html,
    UTF-8, quoted-printable) and, if ``calendar`` is given, the attachment ``termin.ics``
    (``text/calendar; method=PUBLISH``), then ``attachments``. ``sender`` is the configured
    sender, ``Display Name <addr>`` or a plain address, and becomes the From header as it is
    (no name added); ``reply_to`` likewise a Reply-To header when given. Untrusted text (subject,
    display names) cannot add headers or recipients: line breaks become spaces, addresses are
    built only from their parts (:class:`~email.headerregistry.Address`), and Subject/From/To
    are encoded by :mod:`notifications.mail.headers` rather than the stdlib folder (see there why).

    The message is assembled part by part with headers the code itself writes (validated or
    encoded here, stored verbatim) instead of through ``set_content``/``add_alternative``,
    which parse and refold every header they touch: same structure and bytes, a tenth of the
    time. The result carries its :class:`~notifications.mail.transport.Envelope` (From address and
    To addresses) so that the transport need not parse the headers it was built from.

    The Message-ID is ``message_id`` (as the outbox row recorded it) or derived from the
    idempotency key, ``installation`` and ``domain``
    (:func:`~notifications.mail.addresses.message_id`).

    Raises ``ValueError`` for an invalid address, an empty recipient list, a naive ``date``, or
    an idempotency key, Message-ID or domain that cannot go into a header.
    """
    if not recipients:
        raise ValueError("a notice needs at least one recipient")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key) or "=?" in idempotency_key:
        raise ValueError(
            f"idempotency key must be 1-200 printable ASCII characters: {idempotency_key!r}"
        )
    if not DOMAIN.fullmatch(domain):
        raise ValueError(f"invalid Message-ID domain: {domain!r}")
    if message_id is None:
        message_id = make_message_id(idempotency_key, domain, installation=installation)
    elif not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"invalid Message-ID: {message_id!r}")

    to = [make_address(r.name, r.address) for r in recipients]
    from_ = make_address(*name_and_address(sender))
    message = NoticeMessage(policy=POLICY)
    # Subject, From and To carry untrusted text: encoded by our headers module, not the stdlib.
    # The other values are ASCII the checks above or the stdlib formatters vouch for.
    from_header = address_list([from_], "From")
    to_header = address_list(to, "To")
    message["From"] = from_header
    message["To"] = to_header
    if reply_to.strip():
        message["Reply-To"] = address_list([make_address(*name_and_address(reply_to))], "Reply-To")
    message["Subject"] = unstructured(one_line(rendered.subject), "Subject")
    message["Date"] = Verbatim(format_datetime(date))  # in the zone the caller gave
    message["Message-ID"] = Verbatim(message_id)
    message["Auto-Submitted"] = Verbatim("auto-generated")
    message["X-Ruhrflow-Key"] = Verbatim(idempotency_key)
    if mailer:
        message["X-Mailer"] = unstructured(one_line(mailer), "X-Mailer")
    message["MIME-Version"] = Verbatim("1.0")
    message["Content-Type"] = Verbatim(f'multipart/mixed; boundary="{MIXED_BOUNDARY}"')
    message["Content-Language"] = Verbatim("de")
    message.envelope = Envelope(
        sender=from_.addr_spec,
        recipients=tuple(address.addr_spec for address in to),
        from_header=from_header,
        to_header=to_header,
    )

    alternative = _part(f'multipart/alternative; boundary="{ALTERNATIVE_BOUNDARY}"')
    alternative.attach(_text_part(rendered.text, "plain"))
    alternative.attach(_text_part(rendered.html, "html"))
    mixed: EmailMessage = message
    mixed.attach(alternative)
    if calendar is not None:
        organizer = (from_.display_name, from_.addr_spec)
        attachments = [calendar_attachment(calendar, date, organizer), *attachments]
    for attachment in attachments:
        mixed.attach(_attachment_part(attachment))
    return message


_NAMED_ADDRESS = re.compile(r'\s*(?:"([^"\\\x00-\x1f]*)"|([^"<>\x00-\x1f]*?))\s*<([^<>\s]+)>\s*')


def name_and_address(configured: str) -> tuple[str, str]:
    """``("Name", "addr")`` of ``Name <addr>`` (or ``"Name" <addr>``), else ``("", text)``.

    Anything else is taken as a bare address, which :func:`make_address` validates: a list,
    a line break or a stray ``<`` is refused, not half parsed.
    """
    match = _NAMED_ADDRESS.fullmatch(configured)
    if match is None:
        return "", configured.strip()
    return (match.group(1) or match.group(2) or "").strip(), match.group(3)


def calendar_attachment(
    calendar: CalendarEntry, stamp: datetime, organizer: tuple[str, str] | None = None
) -> Attachment:
    """The ``termin.ics`` of a notice made at ``stamp``, organised by ``organizer``."""
    return Attachment(
        filename=CALENDAR_FILENAME,
        maintype="text",
        subtype="calendar",
        params=(("method", "PUBLISH"), ("charset", "utf-8")),
        content=calendar_bytes(calendar, method="PUBLISH", stamp=stamp, organizer=organizer),
    )


def _part(content_type: str) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = Verbatim(content_type)
    return part


def _text_part(text: str, subtype: str) -> EmailMessage:
    """What ``set_content(text, subtype=…, charset="utf-8", cte="quoted-printable")`` makes."""
    part = _part(f'text/{subtype}; charset="utf-8"')
    part["Content-Transfer-Encoding"] = Verbatim("quoted-printable")
    # As email.contentmanager does it: normalised line ends, then the body encoder.
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    part.set_payload(quoprimime.body_encode(body.decode("latin-1"), _MAX_BODY_LINE))
    return part


def _attachment_part(attachment: Attachment) -> EmailMessage:
    """What ``add_attachment(content, maintype, subtype, filename=…, params=…)`` makes."""
    names = (attachment.maintype, attachment.subtype, *(k for k, _ in attachment.params))
    values = (attachment.filename, *(v for _, v in attachment.params))
    params = "".join(f'; {name}="{value}"' for name, value in attachment.params)
    content_type = f"{attachment.maintype}/{attachment.subtype}{params}"
    disposition = f'attachment; filename="{attachment.filename}"'
    if not (
        all(_TOKEN.fullmatch(name) for name in names)
        and all(_VALUE.fullmatch(value) for value in values)
        and max(len(content_type), len(disposition)) <= _MAX_PLAIN_VALUE
    ):
        return _stdlib_attachment_part(attachment)
    part = _part(content_type)
    part["Content-Transfer-Encoding"] = Verbatim("base64")
    part["Content-Disposition"] = Verbatim(disposition)
    part.set_payload(base64.encodebytes(attachment.content).decode("ascii"))
    return part


def _stdlib_attachment_part(attachment: Attachment) -> EmailMessage:
    # Anything unusual (long, or non-ASCII names that need RFC 2231) goes the stdlib's way.
    part = EmailMessage(policy=POLICY)
    part.set_content(
        attachment.content,
        maintype=attachment.maintype,
        subtype=attachment.subtype,
        disposition="attachment",
        filename=attachment.filename,
        params=dict(attachment.params),
    )
    return part
