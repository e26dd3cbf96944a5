"""Assemble a rendered notice into an email message (MIME) ready for a transport."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from notifications.formatting import BERLIN
from notifications.headers import POLICY, Verbatim, address_list, unstructured
from notifications.ics import calendar_bytes
from notifications.model import CalendarEntry, Recipient, RenderedNotice
from notifications.sanitize import one_line

CALENDAR_FILENAME = "termin.ics"
SENDER_NAME = "Ruhr-Konferenz (ruhrflow)"

# Deliberately narrower than RFC 5322: plain ASCII addresses as ministries use them. Anything
# else (quoted local parts, comments, IDN, SMTPUTF8) is refused rather than half supported.
_DOMAIN_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(_DOMAIN_PATTERN)
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@" + _DOMAIN_PATTERN)
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


def make_address(display_name: str, addr_spec: str) -> Address:
    """Build an :class:`~email.headerregistry.Address`, refusing anything that is not an address.

    The display name is reduced to one line (it is free text); the addr-spec must be a plain
    ASCII ``local@domain`` and is never repaired, because a repaired address is a different one.
    Raises ``ValueError`` for an invalid addr-spec.
    """
    if not _ADDR_SPEC.fullmatch(addr_spec):
        raise ValueError(f"invalid email address: {addr_spec!r}")
    local, _, domain = addr_spec.partition("@")
    if local.startswith(".") or local.endswith(".") or ".." in addr_spec:
        raise ValueError(f"invalid email address: {addr_spec!r}")
    try:
        return Address(display_name=one_line(display_name), username=local, domain=domain)
    except (ValueError, IndexError) as exc:  # the stdlib parser's own objections
        raise ValueError(f"invalid email address: {addr_spec!r}: {exc}") from None


def message_id(idempotency_key: str, domain: str) -> str:
    """Return the Message-ID for a notice: the same key always gives the same id.

    A transport that retries after an unclear failure therefore sends the same Message-ID, and
    receiving systems can recognise the duplicate.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(
    *,
    sender: str,
    recipients: Sequence[Recipient],
    rendered: RenderedNotice,
    idempotency_key: str,
    date: datetime,
    calendar: CalendarEntry | None = None,
    domain: str = "ruhrflow.invalid",
) -> EmailMessage:
    """Build the email for one notice.

    Structure: ``multipart/mixed`` holding a ``multipart/alternative`` (text/plain and text/html,
    UTF-8, quoted-printable) and, if ``calendar`` is given, the attachment ``termin.ics``
    (``text/calendar; method=PUBLISH``). ``sender`` is a plain address (addr-spec); the From
    header shows it as :data:`SENDER_NAME`. Untrusted text (subject, display names) cannot add
    headers or recipients: line breaks become spaces, addresses are built only from their parts
    (:class:`~email.headerregistry.Address`), and Subject/From/To are encoded by
    :mod:`notifications.headers` rather than the stdlib folder (see there why).

    Raises ``ValueError`` for an invalid address, an empty recipient list, a naive ``date``, or
    an idempotency key or domain that cannot go into a header.
    """
    if not recipients:
        raise ValueError("a notice needs at least one recipient")
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key) or "=?" in idempotency_key:
        raise ValueError(
            f"idempotency key must be 1-200 printable ASCII characters: {idempotency_key!r}"
        )
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"invalid Message-ID domain: {domain!r}")

    to = [make_address(r.name, r.address) for r in recipients]
    message = EmailMessage(policy=POLICY)
    # Subject, From and To carry untrusted text: encoded by notifications.headers, not the stdlib.
    message["From"] = address_list([make_address(SENDER_NAME, sender)], "From")
    message["To"] = address_list(to, "To")
    message["Subject"] = unstructured(one_line(rendered.subject), "Subject")
    message["Date"] = format_datetime(date.astimezone(BERLIN))
    message["Message-ID"] = message_id(idempotency_key, domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ruhrflow-Key"] = Verbatim(idempotency_key)

    # Quoted-printable survives any relay (no 8BITMIME needed) and stays readable in the source.
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.make_mixed()
    if calendar is not None:
        message.add_attachment(
            calendar_bytes(calendar, method="PUBLISH", stamp=date),
            maintype="text",
            subtype="calendar",
            filename=CALENDAR_FILENAME,
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    # After the body: set_content() drops Content-* headers set before it.
    message["Content-Language"] = "de"
    return message
