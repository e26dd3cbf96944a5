"""Plain values that travel between the engine, the renderer and the transports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Recipient:
    """One addressee of a notice: a display name and an email address (addr-spec)."""

    name: str
    address: str


@dataclass(frozen=True)
class CalendarEntry:
    """An appointment attached to a notice as ``termin.ics``.

    ``starts_at`` must be timezone-aware. The calendar part turns it into a 30-minute event
    starting at that moment (shown in Europe/Berlin) and marked as *free* time, so that a
    deadline appears in the recipient's calendar without blocking it. ``uid`` stays the same for
    every version of the entry; ``sequence`` grows when the entry changes (e.g. a moved deadline),
    which lets Outlook and Thunderbird update the existing appointment instead of adding one.
    """

    uid: str
    sequence: int
    summary: str
    description: str
    starts_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("CalendarEntry.starts_at must be timezone-aware")
        if self.sequence < 0:
            raise ValueError("CalendarEntry.sequence must not be negative")
        if not self.uid.strip():
            raise ValueError("CalendarEntry.uid must not be empty")


@dataclass(frozen=True)
class RenderedNotice:
    """A rendered notice: a one-line subject, a plain-text body and an HTML body."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Attachment:
    """A file attached to a notice (base64): e.g. ``termin.ics``, ``text/calendar``."""

    filename: str
    maintype: str
    subtype: str
    params: tuple[tuple[str, str], ...]
    content: bytes


@dataclass(frozen=True)
class Letter:
    """What every notice closes with, from ``[mail]`` in the configuration.

    ``signature`` follows "Mit freundlichen Grüßen" (one or more lines); ``footer`` is the small
    print under the rule (none when empty). Neither names the software unless configured to:
    a ministry reads the office that writes to it, not the tool it uses.
    """

    signature: str = "Koordinierung der Ruhr-Konferenz"
    footer: str = (
        "Diese Nachricht wurde automatisch für die Koordinierung der Ruhr-Konferenz versandt."
    )
