"""The review's CLI probes, kept: each refused in one line, exit 2, on SQLite and PostgreSQL.

``proposal add --key $'RK-03-94\\n'`` made a row that read like ``RK-03-94`` and that the web
could not open; ``--cost 1_000`` was a thousand euros; a title of only U+200B was a title;
``--now ''`` silently meant the wall clock.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from workflow.cli.main import cli
from workflow.store.db import Store
from workflow.store.schema import proposals

BASE = ["--title", "Radweg", "--handlungsfeld", "1", "--forum", "3", "--lead", "VM"]


def add(url: str, *extra: str, now: str = "2019-07-15T10:00") -> Result:
    return CliRunner().invoke(
        cli, ["--db", url, "--as", "koordination", "--now", now, "proposal", "add", *BASE, *extra]
    )


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0], result.output


def rows(url: str) -> int:
    store = Store.open(url)
    try:
        with store.read() as conn:
            return int(conn.execute(select(func.count()).select_from(proposals)).scalar_one())
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--key", "RK-03-94\n"], "does not look like RK-03-01"),
        (["--key", "RK-03-94\r"], "RK-03-94"),
        (["--cost", "1_000"], "is not a number"),
        (["--cost", "1,000"], "is not a number"),
        (["--cost", "1.0.0"], "is not a number"),
        (["--title", "\u200b"], "title must not be empty"),
        (["--title", "\u200b\u2060\ufeff \u200d"], "title must not be empty"),
    ],
)
def test_a_probe_is_refused_and_nothing_is_written(
    database_url: str, extra: list[str], message: str
) -> None:
    before = rows(database_url)
    refused(add(database_url, *extra), message)
    assert rows(database_url) == before


def test_the_same_key_without_the_line_feed_is_taken(database_url: str) -> None:
    result = add(database_url, "--key", "RK-03-94", "--cost", "1000.50")
    assert result.exit_code == 0, result.output


def test_an_empty_now_is_refused_not_the_wall_clock(database_url: str) -> None:
    refused(add(database_url, now=""), "--now")


def test_a_title_with_a_zero_width_space_inside_text_is_a_title(database_url: str) -> None:
    assert add(database_url, "--title", "Rad\u200bweg").exit_code == 0


def test_a_bad_configuration_is_the_same_line_in_every_command(tmp_path: Path) -> None:
    # given a configuration with an impossible cabinet session
    config = tmp_path / "bad.toml"
    config.write_text("[process]\ncabinet_session = '2019-02-30'\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    # when init, the scheduler, serve or a proposal command load it, then one line, exit 2
    outputs = set()
    for args in (
        ["init"],
        ["scheduler", "run"],
        ["serve"],
        ["proposal", "list"],
        ["config", "check"],
    ):
        result = CliRunner().invoke(cli, ["--db", url, "--config", str(config), *args])
        assert result.exit_code == 2, (args, result.output)
        outputs.add(result.output)
    assert outputs == {"error: process.cabinet_session: '2019-02-30' is no date that exists\n"}


def test_an_import_of_a_device_or_a_fifo_is_refused_before_it_is_read(
    database_url: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for special in ("/dev/zero", str(fifo)):  # (a directory: click refuses it first)
        result = CliRunner().invoke(
            cli,
            ["--db", database_url, "--as", "koordination", "--now", "2019-07-15T10:00",
             "proposal", "import", special],
        )  # fmt: skip
        refused(result, "not a regular file")
    for special in (str(fifo),):
        config = CliRunner().invoke(cli, ["config", "check", special])
        assert config.exit_code == 2 and "not a regular file" in config.output
        definition = CliRunner().invoke(cli, ["definition", "check", special])
        assert definition.exit_code == 2 and "not a regular file" in definition.output


def test_a_document_that_is_a_device_or_a_fifo_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    # /dev/zero has the size 0, so the size check let it through to a read without end
    assert add(database_url, "--key", "RK-03-01").exit_code == 0
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    for special in ("/dev/zero", str(fifo)):
        result = CliRunner().invoke(
            cli,
            ["--db", database_url, "--as", "koordination", "--now", "2019-07-15T10:00",
             "document", "add", "RK-03-01", special],
        )  # fmt: skip
        refused(result, "not a regular file")
