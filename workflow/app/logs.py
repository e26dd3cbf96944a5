"""One log format for the web application, gunicorn and the scheduler.

An operator reads one stream (the journal, a file, a log shipper), so every line of
``ruhrflow serve`` — the app's, gunicorn's master and workers' — and of ``ruhrflow scheduler
run`` has the same shape: the local time *with its offset* (a line from the night the clocks
change is still unambiguous), the level, the logger and, inside a web request, the request
id. ``[logging] format = "json"`` writes one JSON object per line instead, for a shipper
(the fields ``time``, ``level``, ``logger``, ``message``, ``request_id`` and any of
:data:`FIELDS` a line was given with ``extra=``).

The request id lives in a context variable (set by the web layer for the length of a
request): the one place where a value travels beside the call, because a log line of the
engine three layers down must carry it without every function taking it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from workflow.errors import InvalidConfig

REQUEST_ID: ContextVar[str | None] = ContextVar("ruhrflow_request_id", default=None)
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# What a line may carry besides its message (``log.info(..., extra={"actor": ...})``): the
# JSON format writes them as fields; the text format has them in the message already.
FIELDS = (
    "actor",
    "proposal",
    "trigger",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "client",
    "job",
    "notice",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


@dataclass(frozen=True)
class LogSettings:
    """``[logging]``: the format of every line and the lowest level written."""

    format: str = "text"
    level: str = "INFO"

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> LogSettings:
        """Read ``[logging]``; a value outside the choices is one clear error."""
        fmt = str(section.get("format", "text")).lower()
        if fmt not in FORMATS:
            raise InvalidConfig(f"logging.format must be text or json, not {fmt!r}")
        level = str(section.get("level", "INFO")).upper()
        if level not in LEVELS:
            raise InvalidConfig(f"logging.level must be one of {', '.join(LEVELS)}, not {level!r}")
        return cls(format=fmt, level=level)


def local_time(created: float) -> str:
    """A record's time in the machine's zone, with the offset (``…T10:00:00.123+01:00``)."""
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds")


class RequestIdFilter(logging.Filter):
    """Gives every record the current request id (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-05T12:00:00.123+01:00 INFO ruhrflow.web [id] message``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return local_time(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback (an unexpected error) in ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": local_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        for key in FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _request_id(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None) or REQUEST_ID.get()
    return None if found in (None, "-") else str(found)


def make_handler(options: LogSettings, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``options``' format to ``stream`` (standard error by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if options.format == "json" else TextFormatter())
    handler.set_name("ruhrflow")
    return handler


def configure_logging(options: LogSettings, stream: IO[str] | None = None) -> logging.Handler:
    """Make the root logger write ``options``' format at its level, for a long-running
    process (``serve``, ``scheduler run``); returns the handler for gunicorn's loggers."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(options, stream)
    root.addHandler(handler)
    root.setLevel(options.level)
    # Our own loggers must not be held back by a level a command set earlier.
    for name in ("ruhrflow", "workflow", "notifications"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    # APScheduler tells of every job it runs at INFO: noise next to our own sweep lines.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    # Alembic tells of its context at INFO whenever the schema's revision is read (each probe).
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    return handler
