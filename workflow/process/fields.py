"""Values given with a trigger (``--set FIELD=VALUE``): parsed, checked, made JSON-safe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from workflow.errors import InvalidInput
from workflow.inputs import DECIMAL_NUMBER, MAX_FIELD_TEXT, WHOLE_NUMBER, check_text, is_blank
from workflow.process.deadline_rules import EARLIEST, LATEST
from workflow.process.definition import Definition, FieldDef, TransitionDef
from workflow.process.vocabulary import BERLIN


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``["a=1", "b=x"]`` into a dict; a pair without ``=`` is bad input."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--set expects FIELD=VALUE, not {pair!r}")
        if name.strip() in result:
            raise InvalidInput(f"--set {name.strip()} is given more than once")
        result[name.strip()] = value.strip()
    return result


def parse_value(field: FieldDef, raw: Any) -> Any:
    """A field value in its JSON-safe form (dates as ISO text, decimals as text)."""
    try:
        if field.type == "date":
            day = _parse_date(raw)
            if not EARLIEST <= day <= LATEST:  # a deadline before or after it would overflow
                raise InvalidInput(f"field {field.name}: {day} lies outside {EARLIEST} to {LATEST}")
            return day.isoformat()
        if field.type == "integer":
            if isinstance(raw, bool):
                raise ValueError
            number = raw if isinstance(raw, int) else int(_ascii_number(raw, WHOLE_NUMBER))
            _check_bounds(field, number)
            return number
        if field.type == "decimal":
            amount = Decimal(_ascii_number(raw, DECIMAL_NUMBER))
            if not amount.is_finite():
                raise ValueError
            _check_bounds(field, amount)
            return str(amount)
    except (ValueError, InvalidOperation):
        expected = {"date": "a date YYYY-MM-DD", "integer": "a whole number"}.get(
            field.type, "a number"
        )
        shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:60] + "…"
        raise InvalidInput(f"field {field.name}: {shown} is not {expected}") from None
    if not isinstance(raw, str):  # JSON's null is no text ("None" was stored)
        raise InvalidInput(f"field {field.name}: must be text, not {_kind(raw)}")
    text = raw.strip()
    if is_blank(text):
        raise InvalidInput(f"field {field.name}: must not be empty")
    return check_text(text, f"field {field.name}", multiline=True, limit=MAX_FIELD_TEXT)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _ascii_number(raw: Any, pattern: re.Pattern[str]) -> str:
    # int() and Decimal() also take digits of other scripts (٣, ３): only 0-9 are numbers here.
    text = str(raw).strip()
    if isinstance(raw, float | Decimal) and not isinstance(raw, bool):
        return text
    if not pattern.fullmatch(text):
        raise ValueError
    return text


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _parse_date(raw: Any) -> date:
    # Only YYYY-MM-DD, as the message says: Python 3.11's fromisoformat also takes
    # 20191105 and week dates (2019-W45-2), and a datetime is no date.
    if isinstance(raw, datetime):
        raise ValueError
    if isinstance(raw, date):
        return raw
    if not isinstance(raw, str) or not _DATE.fullmatch(raw.strip()):
        raise ValueError
    return date.fromisoformat(raw.strip())


def _check_bounds(field: FieldDef, value: int | Decimal) -> None:
    if field.min is not None and value < field.min:
        raise InvalidInput(f"field {field.name}: {value} is below the minimum {field.min:g}")
    if field.max is not None and value > field.max:
        raise InvalidInput(f"field {field.name}: {value} is above the maximum {field.max:g}")


def parse_fields(definition: Definition, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse every given field; an unknown field name is bad input."""
    parsed = {}
    for name, value in raw.items():
        field = definition.fields.get(name)
        if field is None:
            known = ", ".join(definition.fields) or "none"
            raise InvalidInput(f"unknown field {name!r} (known: {known})")
        parsed[name] = parse_value(field, value)
    return parsed


def missing_fields(
    transition: TransitionDef, fields: Mapping[str, Any], comment: str | None
) -> list[str]:
    """The names a transition requires and was not given (``comment`` for the comment)."""
    return [
        name
        for name in transition.requires
        if (not (comment and comment.strip()) if name == "comment" else name not in fields)
    ]


def described(name: str) -> str:
    """A missing requirement in plain words (``field reason (--set reason=…)``)."""
    return "a comment (--comment)" if name == "comment" else f"field {name} (--set {name}=…)"


def missing_requirements(
    transition: TransitionDef, fields: Mapping[str, Any], comment: str | None
) -> list[str]:
    """What a transition requires and was not given, in plain words."""
    return [described(name) for name in missing_fields(transition, fields, comment)]


def dated_after_today(
    definition: Definition, fields: Mapping[str, Any], now: datetime
) -> list[tuple[FieldDef, date]]:
    """The parsed date fields that may not lie in the future (``not_future``) and lie after
    the day of ``now`` in Europe/Berlin: the cabinet cannot have decided tomorrow.

    ``now`` is the engine's clock, so a simulation on the clock of 2019 refuses a decision
    dated 2031 and takes one dated the day it plays."""
    today = now.astimezone(BERLIN).date()
    late = []
    for name, value in fields.items():
        field = definition.fields.get(name)
        if field is not None and field.not_future and isinstance(value, str):
            day = date.fromisoformat(value)
            if day > today:
                late.append((field, day))
    return late
