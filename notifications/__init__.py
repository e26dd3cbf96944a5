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
    "CalendarEntry": "notifications.model",
    "Recipient": "notifications.model",
    "RenderedNotice": "notifications.model",
    "KINDS": "notifications.render",
    "Renderer": "notifications.render",
    "build_message": "notifications.mime",
    "calendar_bytes": "notifications.ics",
    "MaildirTransport": "notifications.transport",
    "MemoryTransport": "notifications.transport",
    "SMTPTransport": "notifications.transport",
    "Transport": "notifications.transport",
    "TransportError": "notifications.transport",
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
    from notifications.ics import calendar_bytes
    from notifications.mime import build_message
    from notifications.model import CalendarEntry, Recipient, RenderedNotice
    from notifications.render import KINDS, Renderer
    from notifications.transport import (
        MaildirTransport,
        MemoryTransport,
        SMTPTransport,
        Transport,
        TransportError,
    )
