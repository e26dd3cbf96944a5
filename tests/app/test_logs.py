"""One log format for the app, gunicorn and the scheduler (issue #26)."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from workflow.app.logs import REQUEST_ID, LogSettings, make_handler
from workflow.errors import InvalidConfig


def one_line(options: LogSettings, **extra: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("ruhrflow.test_logs")
    logger.propagate = False
    handler = make_handler(options, stream)
    logger.addHandler(handler)
    try:
        logger.warning("notice %s not delivered", 7, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_text_format_has_the_zone_offset_level_logger_and_request_id() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        line = one_line(LogSettings(format="text"))
    finally:
        REQUEST_ID.reset(token)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING ruhrflow\.test_logs"
        r" \[req-1\] notice 7 not delivered\n",
        line,
    ), line


def test_the_json_format_is_one_object_per_line_with_the_fields_given() -> None:
    line = one_line(LogSettings(format="json"), actor="im", proposal="RK-03-01")
    entry = json.loads(line)
    assert entry["message"] == "notice 7 not delivered"
    assert (entry["level"], entry["logger"], entry["request_id"]) == (
        "WARNING",
        "ruhrflow.test_logs",
        None,
    )
    assert (entry["actor"], entry["proposal"]) == ("im", "RK-03-01")
    assert line.count("\n") == 1


@pytest.mark.parametrize(
    ("section", "message"),
    [({"format": "xml"}, "logging.format"), ({"level": "LOUD"}, "logging.level")],
)
def test_a_bad_logging_section_is_one_clear_error(section: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidConfig, match=message.replace(".", r"\.")):
        LogSettings.from_section(section)
