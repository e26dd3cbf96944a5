"""``ruhrflow serve`` says, as it starts, that mail goes out only with ``scheduler run`` (#27.7).

The web application only queues notices in the outbox; after ``ruhrflow demo`` a user who
starts ``serve`` alone would wait for mail in vain.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from workflow.cli.main import cli
from workflow.cli.web import MAIL_NOTE


def test_serve_says_how_mail_goes_out_before_gunicorn_starts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    def run_gunicorn(settings: Any, options: Any) -> None:  # the server itself: not here
        started.append(options)
        print("gunicorn started")

    monkeypatch.setattr("workflow.web.server.run_gunicorn", run_gunicorn)
    result = CliRunner().invoke(cli, ["--db", database_url, "serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started and started[0].port == 8123
    lines = result.output.splitlines()
    assert sum(MAIL_NOTE in line for line in lines) == 1
    assert MAIL_NOTE in lines[0] and "INFO ruhrflow.serve" in lines[0], result.output
    assert "ruhrflow scheduler run" in MAIL_NOTE
