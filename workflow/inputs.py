"""One policy for what users type: text, numbers, amounts — and the schema's limits.

Every user-supplied value that ends up in a column or in the history passes here before
anything is written, so that SQLite and PostgreSQL refuse the same input with the same
one-line error (exit 2). Without it PostgreSQL failed in the driver (exit 70, with SQL and
parameters on stderr) while SQLite, which does not enforce lengths, stored the value.

Text: a *single-line* field (a title, a party, a source) refuses every control character
(C0 and C1, TAB and DEL included), the Unicode line and paragraph separators, the bidi
embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069: "Trojan Source")
and lone surrogates (what invalid UTF-8 on the command line becomes). A *multi-line* field
(a summary, a comment, a statement) allows LF and TAB, nothing else of these. Right-to-left
text itself (Arabic, Hebrew) and the plain marks LRM/RLM are fine.

Limits come from the schema (``String(n)``, ``Numeric(p, s)``, the width of an integer
type), never repeated as numbers: :mod:`workflow.store.limits` reads them from the columns
into the plain values below (:class:`TextLimit`, :class:`IntegerLimit`, :class:`MoneyLimit`),
so that this module, at the bottom of the layers, needs no database library. Text columns
without a length get their limit from the constants below, which are about what a reader
can take in, not about storage.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path

from workflow.errors import InvalidInput

# Lengths of the unbounded text columns (characters).
MAX_TITLE = 300
MAX_SUMMARY = 5000
MAX_COMMENT = 10_000
MAX_STATEMENT = 20_000
MAX_FIELD_TEXT = 2000
MAX_SOURCE = 2000

_BIDI = "\u202a-\u202e\u2066-\u2069"
_SINGLE_LINE_BAD = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}\ud800-\udfff]")
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
MAX_DIGITS = 30  # past any integer column; checked before int(), which stops at 4,300 digits
DECIMAL_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def check_text(value: str, what: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """``value`` unchanged if it obeys the text policy, else InvalidInput naming ``what``.

    ``limit`` is in characters (see :func:`column_length` for a column's).
    """
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters ({len(value)})")
    bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is not None:
        raise InvalidInput(f"{what} {_why(bad.group(), multiline)}")
    return value


# Default-ignorable code points (Unicode's Default_Ignorable_Code_Point: zero-width spaces and
# joiners, the soft hyphen, word joiners, variation selectors, Hangul fillers, tags): drawn as
# nothing, so a title of only these reads as blank.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def is_blank(value: str) -> bool:
    """True when ``value`` shows nothing: only white space and default-ignorable characters
    (``"\u200b"`` is as blank as ``""``)."""
    return not _IGNORABLE.sub("", value).strip()


def matches_whole(pattern: re.Pattern[str], value: str) -> bool:
    """``value`` matches ``pattern`` from its first to its last character (``fullmatch``:
    ``$`` in ``match`` also accepts a trailing line feed, ``RK-03-94\n``)."""
    return pattern.fullmatch(value) is not None


def _why(char: str, multiline: bool) -> str:
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"is not valid UTF-8 text ({code})"
    if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        return f"contains a bidi control character ({code}) that reorders text on screen"
    if not multiline and char in "\n\r\u2028\u2029":
        return f"must be a single line (it contains {code})"
    allowed = "; only line breaks (LF) and tabs are allowed" if multiline else ""
    return f"contains a control character ({code}){allowed}"


def parse_whole_number(raw: str, what: str) -> int:
    """A whole number written with ASCII digits (``int`` also takes ``٣`` or ``３``)."""
    text = raw.strip()
    if not WHOLE_NUMBER.fullmatch(text):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidInput(f"{what} {shown!r} is not a whole number (digits 0-9)")
    if len(text.lstrip("+-").lstrip("0")) > MAX_DIGITS:  # int() refuses 4,301 and more
        raise InvalidInput(f"{what} has more than {MAX_DIGITS} digits")
    return int(text)


def capped_whole_number(text: str, largest: int) -> int | None:
    """``text`` — ASCII digits 0-9 only — as a number, or ``largest + 1`` for any larger one,
    without converting a string of thousands of digits (``int`` refuses more than 4,300);
    None when it is no such number. The caller clamps or refuses what exceeds ``largest``."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(largest)):
        return largest + 1
    return min(int(digits), largest + 1)


def parse_decimal(raw: str, what: str) -> Decimal:
    """A decimal number written with ASCII digits (``Decimal`` also takes other scripts)."""
    text = raw.strip()  # digits and one decimal point: ``1_000`` is refused, as ``1,000`` is
    if not DECIMAL_NUMBER.fullmatch(text):
        raise InvalidInput(f"{what} {raw!r} is not a number (digits 0-9, a decimal point)")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise InvalidInput(f"{what} {raw!r} is not a number") from None


# --- files -----------------------------------------------------------------------------------


def read_file_bytes(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else InvalidInput naming
    ``path`` in one line (/dev/zero, a FIFO or a directory are refused before any read, a
    huge file after ``limit`` bytes)."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer would wait forever (no effect on files)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InvalidInput(f"{path}: not a regular file")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: not a regular file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InvalidInput(f"{path}: larger than {limit // 1024} KiB")
    return data


def read_text_file(path: Path, limit: int, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (:func:`read_file_bytes`),
    else InvalidInput naming ``path`` in one line (a binary file, a NUL byte)."""
    data = read_file_bytes(path, limit, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text (a binary file?)") from None
    if "\x00" in text:
        raise InvalidInput(f"{path}: not a text file (it contains NUL bytes)")
    return text


# --- the schema's limits -----------------------------------------------------------------


@dataclass(frozen=True)
class TextLimit:
    """A ``String(n)`` column's bound: at most ``length`` characters."""

    column: str
    length: int


@dataclass(frozen=True)
class IntegerLimit:
    """An integer column's range (its width on PostgreSQL)."""

    column: str
    low: int
    high: int


@dataclass(frozen=True)
class MoneyLimit:
    """A ``Numeric(precision, scale)`` column's bound."""

    column: str
    precision: int
    scale: int


def column_length(limit: TextLimit) -> int:
    """The length of a ``String(n)`` column."""
    return limit.length


def integer_range(limit: IntegerLimit) -> tuple[int, int]:
    """The smallest and largest value of an integer column."""
    return limit.low, limit.high


def check_length(value: str, limit: TextLimit, what: str) -> str:
    """``value`` if it fits the column's length, else InvalidInput."""
    if len(value) > limit.length:
        raise InvalidInput(f"{what} is longer than {limit.length} characters ({len(value)})")
    return value


def check_integer(value: int, limit: IntegerLimit, what: str) -> int:
    """``value`` if the column can hold it, else InvalidInput."""
    if not limit.low <= value <= limit.high:
        raise InvalidInput(f"{what} {value} is out of range ({limit.low} to {limit.high})")
    return value


def check_money(amount: Decimal, limit: MoneyLimit, what: str) -> Decimal:
    """``amount`` if it is finite, not negative and fits ``Numeric(p, s)`` exactly.

    More decimals than the column keeps are refused, never rounded: the history would
    say ``0.001`` and the row ``0.00``.
    """

    if not amount.is_finite():
        raise InvalidInput(f"{what} {amount} is not a number of euros")
    if amount < 0:
        raise InvalidInput(f"{what} {amount} is negative")
    # SQLite keeps a NUMERIC with a fraction as a double, exact to 15 significant digits
    # only (99999999999999.99 comes back as .98): both backends hold what fits in both.
    ceiling = Decimal(10) ** (min(limit.precision, sys.float_info.dig) - limit.scale)
    if amount >= ceiling:
        raise InvalidInput(f"{what} {amount} is too large (at most {ceiling - 1:,.0f} euros)")
    # Below the ceiling, quantizing stays within the decimal context's precision.
    if amount != amount.quantize(Decimal(1).scaleb(-limit.scale), rounding=ROUND_DOWN):
        raise InvalidInput(f"{what} {amount} has more than {limit.scale} decimal places")
    return amount
