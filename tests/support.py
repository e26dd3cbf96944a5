"""Helpers for tests: create proposals and walk them through the process."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Connection, create_engine

from workflow.app.runtime import Runtime
from workflow.cli.main import cli
from workflow.engine.engine import Engine
from workflow.engine.erasure import Pseudonymised
from workflow.engine.intake import ProposalInput
from workflow.notices.delivery import Delivery
from workflow.process.vocabulary import BERLIN


def delivery_of(target: Runtime | Engine) -> Delivery:
    """What ``deliver`` takes: from a runtime's settings, or an engine with the defaults."""
    if isinstance(target, Engine):
        return Delivery(target.store, target.append_event)
    return target.delivery()


SHIPPED_DEFINITION = Path(__file__).resolve().parent.parent / "definitions" / "ruhr_konferenz.yaml"

# A field value that is the day the step is taken (Europe/Berlin): the cabinet decides the
# day its decision is recorded, never after the engine's clock (fields.*.not_future).
THAT_DAY = "<the day of the step>"

# The path of a proposal through the Ruhr-Konferenz process, as (trigger, actor, fields).
LIFECYCLE: list[tuple[str, str, dict[str, Any]]] = [
    ("submit", "koordination", {}),
    ("open_consultation", "koordination", {}),
    ("close_consultation", "koordination", {}),
    ("submit_to_cabinet", "koordination", {}),
    ("approve", "koordination", {"decision_date": THAT_DAY}),
    ("request_budget", "koordination", {}),
    ("secure_funding", "koordination", {}),
    ("start", "koordination", {}),
    ("report_progress", "LEAD", {"progress": 50}),
    ("complete", "koordination", {}),
]
STATE_AFTER = {
    "submit": "proposed",
    "open_consultation": "consultation",
    "close_consultation": "ministry_review",
    "submit_to_cabinet": "cabinet",
    "approve": "approved",
    "request_budget": "budget",
    "secure_funding": "funded",
    "start": "implementation",
    "report_progress": "implementation",
    "complete": "completed",
}


def add_proposal(
    engine: Engine,
    now: datetime,
    *,
    key: str | None = None,
    forum: int = 3,
    lead: str = "IM",
    cost: int | None = 1_000_000,
    title: str = "Zentrale Sicherheitskooperation Ruhr (Testdaten)",
    handlungsfeld: int = 3,
) -> str:
    """Create one proposal as the coordination office; return its key."""
    (created,) = engine.create_proposals(
        [
            ProposalInput(
                key=key,
                title=title,
                handlungsfeld=handlungsfeld,
                themenforum=forum,
                lead=lead,
                cost_estimate=Decimal(cost) if cost is not None else None,
            )
        ],
        actor="koordination",
        now=now,
    )
    return created


def erase(
    engine: Engine, actor_id: str, *, now: datetime, by: str = "koordination"
) -> Pseudonymised:
    """``ruhrflow audit pseudonymise ACTOR`` on ``engine``."""
    return engine.pseudonymise(actor_id, by=by, now=now)


def prepare(engine: Engine, key: str, trigger: str, now: datetime) -> None:
    """Do what a trigger's guards need: statements before closing, money before securing."""
    if trigger == "close_consultation":
        for group in ("kommune", "ihk", "hwk", "verband"):
            engine.record_statement(
                key, party=f"Test-{group}", group=group, position="support", text="",
                actor="koordination", now=now,
            )  # fmt: skip
    if trigger == "secure_funding":
        engine.add_funding(
            key, source="land", amount=Decimal(10_000_000), year=2020, secured=True,
            actor="koordination", now=now,
        )  # fmt: skip


def _state_of(engine: Engine, key: str) -> str:
    from workflow.store.repo import load_proposal

    with engine.store.read() as conn:
        row = load_proposal(conn, key)
    assert row is not None
    return str(row["state"])


def on_the_day(fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """``fields`` with every :data:`THAT_DAY` replaced by the day of ``now`` in Berlin."""
    day = now.astimezone(BERLIN).date().isoformat()
    return {name: day if value == THAT_DAY else value for name, value in fields.items()}


def walk_to(engine: Engine, key: str, state: str, now: datetime, lead: str = "im") -> datetime:
    """Advance ``key`` along the lifecycle (from wherever it is) until it is in ``state``.

    Returns the last ``now`` used (each step is an hour after the previous one).
    """
    before = "idea"
    for trigger, actor, fields in LIFECYCLE:
        current = _state_of(engine, key)
        if current == state:
            return now
        if current == before:
            now = now + timedelta(hours=1)
            prepare(engine, key, trigger, now)
            engine.advance(
                key,
                trigger,
                actor=lead if actor == "LEAD" else actor,
                now=now,
                fields=on_the_day(fields, now),
            )
        before = STATE_AFTER[trigger]
    assert _state_of(engine, key) == state, f"cannot walk to {state}"
    return now


def as_delivered(row: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox row with its bodies and attachments as delivery would render and send them.

    The outbox stores a notice's template context; the worker renders it when it sends
    (``workflow.notices.delivery.render_row``). Rows delivered already are returned as stored.
    """
    from notifications.mail.render import Renderer
    from workflow.notices.delivery import render_row
    from workflow.process.german import FILTERS

    done = render_row(row, Renderer(formatting=FILTERS))
    return {
        **row,
        "subject": done.rendered.subject,
        "body_text": done.rendered.text,
        "body_html": done.rendered.html,
        "attachments": done.attachments,
    }


def definition_next_version(base: Path) -> Path:
    """The shipped definition (version 3) as a version 4 that changes the process while
    proposals run: ``ministry_review`` renamed ``ressortpruefung``, a consultation of 28
    days instead of 21. Written to ``base``; returns its path."""
    text = SHIPPED_DEFINITION.read_text(encoding="utf-8")
    assert "version: 3\n" in text and "    after: 21d\n" in text
    text = text.replace("version: 3\n", "version: 4\n", 1)
    text = text.replace("ministry_review", "ressortpruefung")
    text = text.replace("    after: 21d\n", "    after: 28d\n", 1)
    path = base / "ruhr_konferenz_v4.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# RUHRFLOW_CONFIG stays: conftest points it at the test configuration.
CLEAN_ENV = {"RUHRFLOW_ACTOR": None, "RUHRFLOW_DATABASE_URL": None}


class Cli:
    """ruhrflow against one database with a fixed now; every call checks the exit code, that
    no traceback was printed and that nothing but a clean exit was raised."""

    def __init__(self, database_url: str, now: str = "2019-07-15T10:00") -> None:
        self.database_url = database_url
        self.now = now  # default: conftest.NOW in Berlin
        self.runner = CliRunner(env=CLEAN_ENV)

    def __call__(
        self, *args: str, actor: str | None = "koordination", now: str | None = None, code: int = 0
    ) -> Result:
        argv = ["--db", self.database_url, "--now", now or self.now]
        if actor is not None:
            argv += ["--as", actor]
        result = self.runner.invoke(cli, [*argv, *args])
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == code, f"exit {result.exit_code} != {code}:\n{result.output}"
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        """The command's ``--format json`` output, parsed."""
        return json.loads(self(*args, "--format", "json", **kw).stdout)

    def state(self, key: str) -> str:
        """The state of ``key`` as ``proposal show`` reports it."""
        return str(self.json("proposal", "show", key, actor=None)["state"])


@contextmanager
def attacker(url: str) -> Iterator[Connection]:
    """A plain connection of someone who owns the database and switches the triggers off
    (the append-only history and, on PostgreSQL, the check that a proposal row matches its
    chain, migration 0006)."""
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            if conn.dialect.name == "sqlite":
                for name in ("history_no_update", "history_no_delete", "history_no_replace"):
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
            else:
                conn.exec_driver_sql("ALTER TABLE history DISABLE TRIGGER USER")
                conn.exec_driver_sql("ALTER TABLE proposals DISABLE TRIGGER USER")
            yield conn
    finally:
        eng.dispose()
