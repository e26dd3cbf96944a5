"""Addresses and Message-IDs of notices: what the outbox checks when a notice is stored.

Kept apart from :mod:`notifications.mail.mime` so that storing a notice (inside a transition)
loads neither the MIME assembly nor the calendar part.
"""

from __future__ import annotations

import hashlib
import re
from email.headerregistry import Address

from notifications.mail.sanitize import one_line

# Deliberately narrower than RFC 5322: plain ASCII addresses as ministries use them. Anything
# else (quoted local parts, comments, IDN, SMTPUTF8) is refused rather than half supported.
_DOMAIN_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
DOMAIN = re.compile(_DOMAIN_PATTERN)  # a plain ASCII domain (also checked in Message-IDs)
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@" + _DOMAIN_PATTERN)


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


def message_id(idempotency_key: str, domain: str, *, installation: str) -> str:
    """Return the Message-ID for a notice: the same key always gives the same id.

    A transport that retries after an unclear failure therefore sends the same Message-ID, and
    receiving systems can recognise the duplicate. ``installation`` is the random id of the
    database (:mod:`workflow.store.installation`): the same key in another database (the demo,
    a test copy) gives another id, so real mail is never dropped as a duplicate of test mail.
    """
    return f"<{_digest(installation, 'notice', idempotency_key)}@{domain}>"


def calendar_uid(domain: str, *identity: object, installation: str) -> str:
    """Return the UID of a calendar entry identified by ``identity`` in this installation.

    Stable for the same identity (every notice about one deadline, every period of a
    recurring one, updates the same calendar entry) and different in every other database.
    """
    return f"{_digest(installation, 'calendar', *identity)}@{domain}"


def _digest(installation: str, *parts: object) -> str:
    if not installation:
        raise ValueError("an installation id is needed (run `ruhrflow init`)")
    text = "\x00".join(str(part) for part in (installation, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
