"""German for the people who use ruhrflow: dates, amounts, labels, and the sentences that say
why not.

The one place for German formatting that is not in a definition: the mails, the web and the
published pages show it (each registers :data:`FILTERS` in its Jinja environment), the CLI
and the logs keep English. Pure (standard library only). Times are stored in UTC and shown
in :data:`~workflow.process.vocabulary.BERLIN`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from workflow.process.vocabulary import BERLIN

DASH = "–"
"""What is shown for a value that is not there."""

_CENT = Decimal("0.01")


def _in_berlin(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # Times are stored in UTC; a naive value is a bug upstream, not something to guess at.
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(BERLIN)


def datum(value: datetime | date | None) -> str:
    """A German date in Europe/Berlin, e.g. ``05.11.2019``; ``None`` is a dash.

    An aware datetime is converted to Europe/Berlin first (23:30 UTC is already the next day
    there); a plain ``date`` is taken as it is.
    """
    if value is None:
        return DASH
    if isinstance(value, datetime):
        value = _in_berlin(value)
    elif not isinstance(value, date):
        raise TypeError(f"datum expects a date or datetime, got {type(value).__name__}")
    return value.strftime("%d.%m.%Y")


def datumzeit(value: datetime) -> str:
    """An aware datetime as German date and time in Europe/Berlin: ``05.11.2019, 09:00 Uhr``."""
    if not isinstance(value, datetime):
        raise TypeError(f"datumzeit expects a datetime, got {type(value).__name__}")
    return _in_berlin(value).strftime("%d.%m.%Y, %H:%M Uhr")


def euro(value: Decimal | int | float | None) -> str:
    """An amount in German notation: ``60.800.000 €``, ``1.234,50 €``; ``None`` is a dash.

    The one rule for every amount ruhrflow shows (mails, web, published pages, refusals):
    whole amounts without cents, others rounded half up to the cent.
    """
    if value is None:
        return DASH
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise TypeError(f"euro expects a Decimal, int or float, got {type(value).__name__}")
    try:
        # str() first, so that 0.1 is 0.1 and not its binary approximation.
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - Decimal(str(float)) is always valid
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount) * 100, 100)
    grouped = f"{int(units):,}".replace(",", ".")
    if cents == 0:
        return f"{sign}{grouped} €"
    return f"{sign}{grouped},{int(cents):02d} €"


def wert(value: Any) -> str:
    """A free-form transition field for a German reader.

    Datetimes and dates use :func:`datumzeit` / :func:`datum`, booleans become Ja/Nein,
    ``None`` becomes a dash; anything else is shown as text.
    """
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "Ja" if value else "Nein"
    if isinstance(value, datetime):
        return datumzeit(value)
    if isinstance(value, date):
        return datum(value)
    return str(value)


def date_in_future(label: str, day: date, today: date) -> str:
    """Why a date that must have passed (``not_future``: a decision's) is refused."""
    return (
        f"{label}: Der {day:%d.%m.%Y} liegt in der Zukunft (heute ist der {today:%d.%m.%Y})."
        " Eingetragen wird nur, was schon beschlossen ist."
    )


def listing(items: list[str]) -> str:
    """``A, B und C``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " und " + items[-1]


_UNITS = {
    "d": ("Tag", "Tage"),
    "wd": ("Arbeitstag", "Arbeitstage"),
    "w": ("Woche", "Wochen"),
    "mo": ("Monat", "Monate"),
}
_RUNG = re.compile(r"(remind|escalate)-(\d+)(wd|mo|d|w)")


def rung_words(name: str) -> str:
    """When a rung fires, in German: ``remind-7d`` → ``7 Tage vor Fristende``."""
    match = _RUNG.fullmatch(name)
    if match is None:
        return name
    kind, count, unit = match.group(1), int(match.group(2)), match.group(3)
    word = _UNITS[unit][0 if count == 1 else 1]
    return f"{count} {word} {'vor' if kind == 'remind' else 'nach'} Fristende"


def rung_label(deadline_label: str, name: str) -> str:
    """A rung as people name it (history, audit filter): ``consultation.remind-7d`` is
    ``Erinnerung 7 Tage vor Fristende: Ende der Beteiligung …``."""
    kind = "Eskalation" if name.startswith("escalate") else "Erinnerung"
    return f"{kind} {rung_words(name)}: {deadline_label}"


# What a history entry that is no transition records, in German (a transition's entry is
# named by its definition's label).
ENTRY_KINDS = {
    "created": "Angelegt",
    "statement": "Stellungnahme erfasst",
    "funding": "Finanzierung erfasst",
    "document": "Dokument angehängt",
    "edit": "Angaben korrigiert",
    "reminder": "Erinnerung ausgelöst",
    "escalation": "Eskalation ausgelöst",
    "rung_skipped": "Erinnerung entfallen",
    "deadline_moved": "Frist verschoben",
    "notice_sent": "Mitteilung versandt",
    "notice_failed": "Mitteilung fehlgeschlagen",
    "migration": "Auf eine neue Prozessversion umgestellt",
    "checkpoint": "Checkpoint gesetzt",
    "verification": "Prüfung des Protokolls",
    "installation": "Neue Installations-ID",
    "pseudonymise": "Pseudonymisiert",
}

# The kinds of notices, as the ministries know them.
NOTICE_KINDS = {
    "status_change": "Statusänderung",
    "consultation_opened": "Beteiligung eröffnet",
    "reminder": "Erinnerung",
    "escalation": "Eskalation",
    "digest": "Wochenübersicht",
    "deadline_moved": "Frist verschoben",
}

# The fields of a proposal a correction changes (``proposal edit --set``), by their German names.
EDITED_FIELDS = {
    "title": "Titel",
    "summary": "Kurzbeschreibung",
    "cost_estimate": "Kostenschätzung",
    "participating": "Beteiligte Ressorts",
    "handlungsfeld": "Handlungsfeld",
}


FILTERS: dict[str, Callable[..., str]] = {
    "datum": datum,
    "datumzeit": datumzeit,
    "euro": euro,
    "wert": wert,
}
"""The German formatting as Jinja filters: the mail renderer, the web and the published pages
register these (and nothing of their own)."""
