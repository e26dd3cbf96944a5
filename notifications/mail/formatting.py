"""German formatting of dates and amounts for notices (the Jinja filters)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from workflow.process.vocabulary import BERLIN

_CENT = Decimal("0.01")


def _in_berlin(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # Times are stored in UTC; a naive value is a bug upstream, not something to guess at.
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(BERLIN)


def datum(value: datetime | date) -> str:
    """Format as a German date in Europe/Berlin, e.g. ``05.11.2019``.

    An aware datetime is converted to Europe/Berlin first (23:30 UTC is already the next day
    there); a plain ``date`` is taken as it is.
    """
    if isinstance(value, datetime):
        value = _in_berlin(value)
    elif not isinstance(value, date):
        raise TypeError(f"datum expects a date or datetime, got {type(value).__name__}")
    return value.strftime("%d.%m.%Y")


def datumzeit(value: datetime) -> str:
    """Format an aware datetime as German date and time in Europe/Berlin.

    Example: ``05.11.2019, 09:00 Uhr``.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"datumzeit expects a datetime, got {type(value).__name__}")
    return _in_berlin(value).strftime("%d.%m.%Y, %H:%M Uhr")


def euro(value: Decimal | int | float) -> str:
    """Format an amount in German notation, e.g. ``60.800.000 €`` or ``1.234,50 €``.

    Whole amounts are shown without cents; others are rounded half up to the cent.
    """
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
    """Format a free-form transition field for a German reader.

    Datetimes and dates use :func:`datumzeit` / :func:`datum`, booleans become Ja/Nein,
    ``None`` becomes a dash; anything else is shown as text.
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "Ja" if value else "Nein"
    if isinstance(value, datetime):
        return datumzeit(value)
    if isinstance(value, date):
        return datum(value)
    return str(value)
