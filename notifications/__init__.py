"""Notices to the ministries: rendering, calendar parts, MIME messages and transports.

The store-independent half of notifications: the engine builds a context, :class:`Renderer`
turns it into a :class:`RenderedNotice`, :func:`build_message` into an email (optionally with a
``termin.ics`` from :func:`calendar_bytes`), and a :class:`Transport` delivers it.

The names load lazily (PEP 562): a transition imports ``notifications.events`` and stores
contexts; Jinja2 and icalendar are loaded only by what renders (delivery, previews).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())


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
