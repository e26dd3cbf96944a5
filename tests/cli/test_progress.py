"""Long operations report progress through one callback; the CLI shows it on stderr.

The core functions are called with a recording callback (real database, both backends);
the CLI helper is driven with a fixed clock: a log gets a line every interval, a terminal
(a real pseudo-terminal) a bar, a quick command and ``--quiet`` nothing at all.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NOW
from support import add_proposal, walk_to

from workflow.audit.export import export_history, verify_file
from workflow.audit.verify import verify_store
from workflow.cli.main import cli
from workflow.cli.progress import Progress
from workflow.deadlines.sweep import sweep
from workflow.engine.engine import Engine


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))


# --- the CLI helper -----------------------------------------------------------------------


def test_a_log_gets_a_line_per_interval_and_one_at_the_end() -> None:
    # given a log (no terminal) and a clock that we move
    clock, out = Clock(), io.StringIO()
    with Progress("verify", unit="entries", stream=out, tty=False, clock=clock) as p:
        p.update(10, 100)  # at once: nothing yet
        clock.now += 5
        p.update(40, 100)
        clock.now += 1
        p.update(50, 100)  # within the interval: nothing
        clock.now += 5
        p.update(90, 100)
        p.update(100, 100)
    # then two periodic lines and the final one
    assert out.getvalue().splitlines() == [
        "verify: 40 of 100 entries (40%)",
        "verify: 90 of 100 entries (90%)",
        "verify: 100 of 100 entries (100%), done",
    ]


def test_a_quick_operation_and_quiet_show_nothing() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress("import", stream=out, tty=False, clock=clock) as p:
        p.update(75, 75)  # done before the first interval
    with Progress("import", stream=out, tty=False, clock=clock, quiet=True) as p:
        clock.now += 60
        p.update(75, 75)
        p.note("a story line")
    assert out.getvalue() == ""


def test_an_unknown_total_is_counted() -> None:
    clock, out = Clock(), io.StringIO()
    with Progress("tick", unit="rungs fired", stream=out, tty=False, clock=clock) as p:
        clock.now += 5
        p.update(200, None)
    assert out.getvalue().splitlines() == [
        "tick: 200 rungs fired",
        "tick: 200 rungs fired, done",
    ]


def test_a_terminal_gets_a_bar() -> None:
    # given a real pseudo-terminal as stderr
    leader, follower = os.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        clock = Clock()
        with Progress("export", stream=terminal, clock=clock) as p:
            assert p.tty
            clock.now += 1
            for done in (1_000, 2_000, 4_000):
                p.update(done, 4_000)
    chunks = []
    while True:  # until the closed follower side makes the leader report EIO
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    shown = b"".join(chunks).decode()
    # then click's bar was drawn and redrawn, with the position, up to the full bar
    assert shown.count("\rexport") >= 3 or shown.count("export  [") >= 3
    assert f"[{'#' * 36}]  4000/4000" in shown


# --- the core reports through the callback ------------------------------------------------


def test_core_operations_report_through_the_callback(engine: Engine, tmp_path: Path) -> None:
    # import: every row, then the end
    rows = [
        (line, {"key": "", "title": f"Vorhaben {line}", "handlungsfeld": "3", "themenforum": "3",
                "lead": "IM", "participating": "", "cost_estimate": "1000", "summary": ""})
        for line in range(2, 7)
    ]  # fmt: skip
    imported = Recorder()
    created, _ = engine.import_proposals(rows, actor="koordination", now=NOW, progress=imported)
    assert len(created) == 5
    assert imported.calls[0] == (0, 5) and imported.calls[-1] == (5, 5)
    # bulk advance: every proposal checked, then the end
    advanced = Recorder()
    engine.advance_many("submit", keys=created, actor="koordination", now=NOW, progress=advanced)
    assert advanced.calls == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    # the sweep: the rungs handled so far, batch by batch
    for key in created[:2]:
        walk_to(engine, key, "consultation", NOW)
    swept = Recorder()
    result = sweep(
        engine.store,
        engine.machines,
        engine.append_event,
        NOW + timedelta(days=40),
        batch_size=1,
        progress=swept,
    )
    handled = len(result.fired) + len(result.skipped)  # a late reminder is skipped (#13)
    assert len(result.fired) >= 2 and swept.calls[-1] == (handled, None)
    assert [done for done, _ in swept.calls] == sorted({d for d, _ in swept.calls})
    # verify and export: the entries, with the total from the database
    verified = Recorder()
    entries = verify_store(engine.store, key=None, progress=verified).entries
    assert verified.calls[-1] == (entries, entries)
    exported = Recorder()
    path = tmp_path / "history.jsonl"
    with path.open("w", encoding="utf-8") as out:
        export_history(engine.store, out, fmt="jsonl", keyed=False, now=NOW, progress=exported)
    assert exported.calls[-1] == (entries, None)
    checked = Recorder()
    assert verify_file(path, key=None, progress=checked).ok
    assert checked.calls[-1] == (entries, entries)


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["default", "quiet"])
def test_quick_commands_keep_stderr_clean(
    engine: Engine, database_url: str, quiet: list[str]
) -> None:
    # given three proposals: a bulk advance that is refused
    keys = [add_proposal(engine, NOW) for _ in range(3)]
    engine.advance(keys[1], "submit", actor="koordination", now=NOW)
    argv = ["--db", database_url, "--as", "koordination", "--now", "2019-07-15T12:00"]
    result = CliRunner(env={"RUHRFLOW_ACTOR": None}).invoke(
        cli, [*argv, "advance", *keys, "submit", *quiet]
    )
    # then stderr is the one error line: no progress before it
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
