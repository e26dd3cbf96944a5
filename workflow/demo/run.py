"""``ruhrflow demo``: the Ruhr-Konferenz 2019 round, played end to end on the embedded default.

:func:`run_demo` prepares the directory and its config, imports the 75 proposals, lets the
script (workflow/demo/script.py) play under the simulated clock (workflow/demo/clock.py)
to 31 Dec 2024, and sums up what the run produced.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflow.app.bootstrap import initialise
from workflow.app.resources import shipped_file
from workflow.app.runtime import open_runtime
from workflow.app.settings import load_settings
from workflow.audit.reports import newest_definition, overdue, status_report
from workflow.audit.verify import verify_store
from workflow.demo.clock import Progress, Simulation
from workflow.demo.directory import prepare_directory, write_config
from workflow.demo.facts import COORDINATOR, END, SAMPLE_DATA
from workflow.demo.samples import FORUM, LEFT_AT, SAMPLE_TITLE, leave_samples
from workflow.demo.script import Proposal, Round
from workflow.engine.intake import read_csv
from workflow.process.definition import load_definition
from workflow.process.vocabulary import BERLIN
from workflow.publish import PublishResult, publish
from workflow.store import chains
from workflow.store import demo as demo_store
from workflow.store.installation import mark_sample_data

BOARD_AS_OF = date(2024, 12, 31)  # the Sachstand the round ends with
BOARD_URL = "http://127.0.0.1:8000/public/"  # where `ruhrflow serve` shows it ([web] public_dir)


@dataclass
class DemoSummary:
    """What the run produced, for the closing summary and the tests."""

    directory: Path
    config: Path
    database: Path
    maildir: Path
    board: PublishResult  # the Sachstand of 31.12.2024 in <directory>/public
    seconds: float
    states: dict[str, int]
    status_rows: list[dict[str, Any]]
    notices: dict[str, dict[str, int]]
    overdue: list[dict[str, Any]]
    verify_ok: bool
    verify_text: str
    history_rows: int
    funds_2020: Decimal


def run_demo(
    directory: Path, *, fresh: bool, progress: Progress, plain: bool = False
) -> DemoSummary:
    """Play the 2019 round in ``directory``; return the summary.

    One process plays the whole run, so it leaves out what only a process among several, or
    one that must survive a power loss, needs: its commits wait for no fsync (the database is
    synced once at the end); delivery is set up once for the run, each pass is one
    transaction (:func:`~workflow.demo.clock.one_run_hooks`), and its mails are made by a
    second process while the run goes on, written without an fsync each and synced once
    (workflow/demo/mail.py). ``plain`` keeps all of them as every other command has them
    (for the test that they change nothing).
    """
    started = time.monotonic()
    prepare_directory(directory, fresh=fresh)
    config = write_config(directory)
    settings = load_settings(config, env={})  # the demo ignores RUHRFLOW_* of the shell
    runtime = open_runtime(settings)
    sim: Simulation | None = None
    try:
        if not plain:
            demo_store.commit_without_fsync(runtime.store)
        sim = Simulation(runtime, progress, plain=plain)
        initialise(runtime.store, load_definition(settings.definition_path), sim.now)
        with runtime.store.write() as conn:  # every board and page made from it says so
            mark_sample_data(conn, SAMPLE_DATA)
        data = shipped_file("definitions", "data/ruhr_konferenz_2019.csv").read_bytes()
        created, _ = runtime.engine.import_proposals(read_csv(data), actor=COORDINATOR, now=sim.now)
        progress(f"2019-07-01  imported {len(created)} proposals of the 20 Themenforen")
        proposals = _load(runtime)
        script = Round(sim, proposals, progress)
        script.submissions()
        script.consultation()
        script.cabinet()
        script.budget()
        script.implementation()
        sim.run()
        progress(
            f"{END:%Y-%m-%d}  end of the demo: {sim.fired['reminder']} reminders and"
            f" {sim.fired['escalation']} escalations fired along the way"
        )
        sim.now = LEFT_AT  # after the story: no more scheduler passes, the samples' mail only
        samples = leave_samples(runtime.engine, LEFT_AT)
        sim.deliver()
        progress(
            f"{LEFT_AT.astimezone(BERLIN):%Y-%m-%d}  left {len(samples)} proposals of the demo"
            f' to try in Themenforum {FORUM} ({", ".join(samples)}): "{SAMPLE_TITLE}"'
        )
        sim.finish()
        sim = None  # finished: nothing for the error path to finish
        board = publish(
            runtime.store,
            runtime.directory,
            directory / "public",
            as_of=BOARD_AS_OF,
            now=LEFT_AT + timedelta(hours=1),
            actor_id=COORDINATOR,
            audit_key=settings.audit_key,
            base_url=BOARD_URL,
        )
        demo_store.checkpoint(runtime.store)
        return _summary(runtime, directory, config, board, time.monotonic() - started)
    except BaseException as exc:
        if sim is not None:  # stopped (Ctrl-C, an error): every mail of a sent notice made
            _finish_after(sim, exc)
        raise
    finally:
        runtime.close()


def _finish_after(sim: Simulation, exc: BaseException) -> None:
    """Finish ``sim``'s mail after ``exc`` stopped the run: the notices its passes committed
    as sent get their mails and text, and the second process ends (workflow/demo/mail.py).
    Ctrl-C is held off meanwhile (a few seconds at most); what fails here is noted on
    ``exc``."""
    held = _hold_sigint()
    try:
        sim.finish()
    except Exception as failed:
        exc.add_note(f"and finishing the demo's mail failed: {failed!r}")
    finally:
        sim.close()
        if held is not None:
            signal.signal(signal.SIGINT, held)


def _hold_sigint() -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load(runtime: Any) -> list[Proposal]:
    with runtime.store.read() as conn:
        rows = demo_store.all_proposals(conn)
    return [
        Proposal(r["key"], r["title"], r["themenforum"], r["lead"], Decimal(r["cost_estimate"]))
        for r in rows
    ]


def _summary(
    runtime: Any, directory: Path, config: Path, board: PublishResult, seconds: float
) -> DemoSummary:
    end = END.astimezone(UTC)
    with runtime.store.read() as conn:
        states = demo_store.proposals_per_state(conn)
        notices: dict[str, dict[str, int]] = {}
        for kind, status, n in demo_store.notices_per_kind_and_status(conn):
            notices.setdefault(kind, {})[status] = n
        definition = newest_definition(conn)
        rows = status_report(conn, definition)
        late = overdue(conn, end, runtime.directory)
        history_rows = chains.count_entries(conn)
        funds = demo_store.funding_of_year(conn, 2020)
    result = verify_store(runtime.store, key=runtime.settings.audit_key)
    return DemoSummary(
        directory=directory,
        config=config,
        database=directory / "ruhrflow.db",
        maildir=directory / "mail",
        board=board,
        seconds=seconds,
        states=states,
        status_rows=rows,
        notices=notices,
        overdue=late,
        verify_ok=result.ok,
        verify_text=(
            f"{result.entries} entries in {result.chains} chains verified"
            if result.ok
            else f"BROKEN at {result.broken}"
        ),
        history_rows=int(history_rows),
        funds_2020=Decimal(funds),
    )
