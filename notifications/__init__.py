"""Notices to the ministries: rendering, calendar parts, MIME messages and transports.

The store-independent half of notifications: the engine builds a context, :class:`Renderer`
turns it into a :class:`RenderedNotice`, :func:`build_message` into an email (optionally with a
``termin.ics`` from :func:`calendar_bytes`), and a :class:`Transport` delivers it.
"""

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
