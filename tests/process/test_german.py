"""The German formatting (workflow.process.german) and the one-line rule for headers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from notifications.mail.sanitize import one_line
from workflow.process.german import datum, datumzeit, euro, wert

UTC = ZoneInfo("UTC")


def test_datum_shows_the_berlin_date_of_an_aware_datetime() -> None:
    # given 23:30 UTC on 4 Nov, which is already 5 Nov in Berlin
    moment = datetime(2019, 11, 4, 23, 30, tzinfo=UTC)
    # then
    assert datum(moment) == "05.11.2019"


def test_datum_takes_a_plain_date_as_it_is() -> None:
    assert datum(date(2019, 11, 5)) == "05.11.2019"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2019, 11, 5, 8, 0, tzinfo=UTC), "05.11.2019, 09:00 Uhr"),  # CET, UTC+1
        (datetime(2019, 7, 15, 10, 5, tzinfo=UTC), "15.07.2019, 12:05 Uhr"),  # CEST, UTC+2
    ],
)
def test_datumzeit_converts_to_berlin_time_in_winter_and_summer(
    moment: datetime, expected: str
) -> None:
    assert datumzeit(moment) == expected


def test_naive_datetimes_are_refused_instead_of_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        datumzeit(datetime(2019, 11, 5, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        datum(datetime(2019, 11, 5, 9, 0))


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (60_800_000, "60.800.000 €"),
        (Decimal("2900000.00"), "2.900.000 €"),
        (1_200_000_000, "1.200.000.000 €"),
        (440_000.5, "440.000,50 €"),
        (Decimal("1234.565"), "1.234,57 €"),
        (0.1, "0,10 €"),
        (0, "0 €"),
        (999, "999 €"),
        (-1500, "-1.500 €"),
        (Decimal("-0.001"), "0 €"),
    ],
)
def test_euro_uses_german_grouping_and_decimal_comma(
    amount: Decimal | int | float, expected: str
) -> None:
    assert euro(amount) == expected


@pytest.mark.parametrize("value", [True, "60800000"])
def test_euro_refuses_what_is_not_an_amount(value: object) -> None:
    with pytest.raises(TypeError):
        euro(value)  # type: ignore[arg-type]


def test_a_missing_amount_is_a_dash() -> None:
    # the web's and the published pages' amounts may be unknown; the mail's never are
    assert euro(None) == "–"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN")])
def test_euro_refuses_non_finite_amounts(value: float | Decimal) -> None:
    with pytest.raises(ValueError, match="finite"):
        euro(value)


def test_wert_formats_free_fields_for_a_german_reader() -> None:
    assert wert(datetime(2019, 11, 5, 8, 0, tzinfo=UTC)) == "05.11.2019, 09:00 Uhr"
    assert wert(date(2019, 11, 5)) == "05.11.2019"
    assert wert(True) == "Ja"
    assert wert(False) == "Nein"
    assert wert(None) == "–"
    assert wert(74) == "74"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Test\r\nBcc: evil@example.org", "Test Bcc: evil@example.org"),
        ("a\nb\rc\x0bd\x0ce\x85f\u2028g\u2029h\x00i\tj", "a b c d e f g h i j"),
        ("  viel   Raum  ", "viel Raum"),
        ("Straße in Gelsenkirchen", "Straße in Gelsenkirchen"),
        # bidi overrides and isolates (issue 18.9) are dropped, right-to-left text stays
        ("Plan \u202egnp.exe", "Plan gnp.exe"),
        ("\u2067مشروع\u2069 Ruhr", "مشروع Ruhr"),
    ],
)
def test_one_line_turns_every_line_break_and_control_character_into_a_space(
    raw: str, expected: str
) -> None:
    assert one_line(raw) == expected
