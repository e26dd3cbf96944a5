"""German for the people who use ruhrflow: amounts, and the sentences that say why not.

The process layer's one place for German wording that is not in a definition: the web and
the mails show it, the CLI and the logs keep English. Pure (standard library only).
"""

from __future__ import annotations

from decimal import Decimal


def euro(amount: Decimal | int | float) -> str:
    """``1.234.567,50 €``: German grouping and decimal comma, always two decimals."""
    text = f"{Decimal(amount):,.2f}"  # 1,234,567.50
    return text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".") + " €"


def listing(items: list[str]) -> str:
    """``A, B und C``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " und " + items[-1]


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
