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
