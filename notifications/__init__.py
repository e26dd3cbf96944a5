"""The mail library: templates, rendering, MIME messages, calendar parts and transports.

It knows nothing of the workflow (an import-linter contract holds it to that): the domain of
notices — who is told what, the outbox, delivery, the digest — is ``workflow.notices``, which
builds a context; :class:`Renderer` turns it into a :class:`RenderedNotice` (with the
formatting filters the caller passes in), :func:`build_message` into an email (optionally
with a ``termin.ics`` from :func:`calendar_bytes`), and a :class:`Transport` delivers it.

The names load lazily (PEP 562): a transition stores contexts without this package's
heavy parts; Jinja2 and icalendar are loaded only by what renders (delivery, previews).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CalendarEntry": "notifications.mail.model",
    "Recipient": "notifications.mail.model",
    "RenderedNotice": "notifications.mail.model",
    "KINDS": "notifications.mail.render",
    "Renderer": "notifications.mail.render",
    "build_message": "notifications.mail.mime",
    "calendar_bytes": "notifications.mail.ics",
    "MaildirTransport": "notifications.mail.transport",
    "MemoryTransport": "notifications.mail.transport",
    "SMTPTransport": "notifications.mail.transport",
    "Transport": "notifications.mail.transport",
    "TransportError": "notifications.mail.transport",
}

# Grouped by concept on purpose (dramatiq style), hence not alphabetical.
__all__ = [  # noqa: RUF022
    # Values
    "CalendarEntry",
    "Recipient",
    "RenderedNotice",
    # Rendering
    "KINDS",
    "Renderer",
    # Messages
    "build_message",
    "calendar_bytes",
    # Transports
    "MaildirTransport",
    "MemoryTransport",
    "SMTPTransport",
    "Transport",
    "TransportError",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from notifications.mail.ics import calendar_bytes
    from notifications.mail.mime import build_message
    from notifications.mail.model import CalendarEntry, Recipient, RenderedNotice
    from notifications.mail.render import KINDS, Renderer
    from notifications.mail.transport import (
        MaildirTransport,
        MemoryTransport,
        SMTPTransport,
        Transport,
        TransportError,
    )
