"""Machine formats of ruhrflow's JSON, shared by the CLI (``--format json``) and the web API:
times as RFC 3339 in UTC with ``Z``, amounts as exact decimal strings with two places.

The web API answers with the same JSON as the CLI (issue 14: "the fields of ``ruhrflow
proposal list --format json``"), so both take their formats from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from workflow.errors import WorkflowError

if TYPE_CHECKING:
    from workflow.engine.changes import Applied

# The kinds of the fields of ``proposal list`` (their order is the CLI's column order).
LIST_KINDS: dict[str, str] = {
    "key": "text",
    "state": "text",
    "handlungsfeld": "int",
    "themenforum": "int",
    "lead": "text",
    "participating": "list",
    "cost_estimate": "amount",
    "title": "text",
    "version": "int",
    "definition_id": "int",
    "state_entered_at": "time",
    "updated_at": "time",
    "definition_version": "int",
    "definition_hash": "text",
}


def _as_datetime(value: str | datetime) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def rfc3339(value: str | datetime | None) -> str | None:
    """A time as RFC 3339 in UTC with ``Z`` (microseconds only when there are any)."""
    if value is None or value == "":
        return None
    dt = _as_datetime(value).astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return dt.strftime(spec)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def machine_amount(value: Any) -> str | None:
    """An amount as an exact decimal string with two places: ``"2500000.00"``."""
    amount = _decimal(value)
    return None if amount is None else f"{amount:.2f}"


def machine_value(value: Any, kind: str) -> Any:
    """A field's value for JSON: times RFC 3339 ``Z``, amounts decimal strings."""
    if kind == "time":
        return rfc3339(value)
    if kind == "amount":
        return machine_amount(value)
    if kind == "list":
        return [] if value is None else list(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return machine_amount(value)
    return value


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Decimal):
        return machine_amount(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_ISO_WITH_OFFSET = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"
)


def zulu(data: Any) -> Any:
    """``data`` with every time (a datetime, or ISO text with an offset) as RFC 3339 ``Z``."""
    if isinstance(data, dict):
        return {k: zulu(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [zulu(v) for v in data]
    if isinstance(data, datetime) or (isinstance(data, str) and _ISO_WITH_OFFSET.fullmatch(data)):
        return rfc3339(data)
    return data


def machine_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``proposal list --format json``."""
    return {k: machine_value(row.get(k), kind) for k, kind in LIST_KINDS.items()}


def machine_detail(d: dict[str, Any]) -> dict[str, Any]:
    """``proposal show --format json``: the listing's formats, amounts as strings, times ``Z``."""
    out = {k: machine_value(d.get(k), kind) for k, kind in LIST_KINDS.items()}
    out.update({k: v for k, v in d.items() if k not in out})
    out["funding_secured"] = machine_amount(d["funding_secured"])
    out["statements"] = [{**s, "received_at": rfc3339(s["received_at"])} for s in d["statements"]]
    out["funding"] = [{**f, "amount": machine_amount(f["amount"])} for f in d["funding"]]
    return zulu(out)  # type: ignore[no-any-return]


def as_json(data: Any) -> Any:
    """``data`` as the API sends it and the CLI reads it back: times RFC 3339 ``Z``, amounts
    exact decimal strings, dates ISO — so a command formats the same data either way."""
    return json.loads(json.dumps(zulu(data), default=json_default))


def advance_result(
    applied: Sequence[Applied], refused: Sequence[tuple[str, WorkflowError | Any]]
) -> dict[str, Any]:
    """The object ``advance --format json`` prints (and ``POST /api/advance`` answers)."""
    return {
        "applied": [
            {
                "key": a.key,
                "trigger": a.trigger,
                "from_state": a.from_state,
                "to_state": a.to_state,
                "seq": a.seq,
            }
            for a in applied
        ],
        "refused": [{"key": k, "reason": str(e)} for k, e in refused],
    }
