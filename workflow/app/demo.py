"""The main job: the Ruhr-Konferenz 2019 round, played end to end on the embedded default.

The real engine, the real deadline sweeps, the real outbox and digest run under a
simulated clock: ``now`` jumps from one moment to the next (a scripted step of the
process, a reminder or escalation coming due, Monday 07:00 for the weekly digest), and
nothing sleeps. At every such moment the scheduler's own ``tick`` runs, exactly as
``ruhrflow scheduler tick --now …`` would.

What is public fact and what is illustrative: the calendar (15 Jul 2019 forum deadline,
three weeks of consultation, cabinet decision on 5 Nov 2019 approving 74 and taking the
Altschulden proposal out, 60.8 Mio € for 2020) and the counts of the Fortschrittsberichte
at their cut-offs (``PUBLISHED``) come from ``shared/domain/ruhr-konferenz.md``; the demo
runs to 31 Dec 2024 and its history reproduces those counts (``report status --as-of``).
Which project has which outcome, and when, is illustrative: only the counts are public.
So are single dates inside the phases, statements, late parties, progress reports and
funding beyond 2020, drawn from a seeded random generator, so every run is the same.

The reports count 73 decided projects where the cabinet approved 74; the sources seen do
not say why. The demo assumes (illustrative) that one project went up in another one in
2021 (trigger ``merge``, state ``merged``, not counted).
"""

from __future__ import annotations

import heapq
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflow.app.bootstrap import initialise
from workflow.app.resources import shipped_file
from workflow.app.runtime import open_runtime
from workflow.app.settings import load_settings
from workflow.audit.reports import newest_definition, overdue, status_report
from workflow.audit.verify import verify_store
from workflow.engine.intake import Intake, import_rows, read_csv
from workflow.errors import InvalidInput
from workflow.process.definition import load_definition
from workflow.process.vocabulary import BERLIN
from workflow.scheduler.tick import scheduler_hooks, tick
from workflow.store import chains
from workflow.store import demo as demo_store
from workflow.store.installation import mark_sample_data

SEED = 2019
COORDINATOR = "koordination"
FUNDS_2020 = Decimal(60_800_000)  # planned for Ruhr-Konferenz projects in 2020 (public figure)
END = datetime(2024, 12, 31, 18, 0, tzinfo=BERLIN)
OUTCOMES = {"completed": 42, "discontinued": 15, "implementation": 16, "merged": 1}
# The published counts (Fortschrittsberichte, Sachstand at the end of the year); None:
# not published. Sources: definitions/data/README.md.
PUBLISHED: dict[date, dict[str, int | None]] = {
    date(2021, 12, 31): {
        "in Prüfung": 17, "in Umsetzung": 55, "abgeschlossen": 1, "nicht weiterverfolgt": 0,
    },
    date(2022, 12, 31): {
        "in Prüfung": None, "in Umsetzung": None, "abgeschlossen": 22,
        "nicht weiterverfolgt": 13,
    },
    date(2024, 12, 31): {
        "in Prüfung": 0, "in Umsetzung": 16, "abgeschlossen": 42, "nicht weiterverfolgt": 15,
    },
}  # fmt: skip


@dataclass(frozen=True)
class _Course:
    """How a group of projects runs after the budget (illustrative: only counts are public).

    ``start``: the window the works begin in (None: never started); ``end``: the window of
    the outcome (None: still in implementation on 31 Dec 2024).
    """

    count: int
    start: tuple[date, date] | None
    outcome: str
    end: tuple[date, date] | None


_EARLY = (date(2020, 1, 6), date(2020, 3, 27))
_START_2022 = (date(2022, 1, 10), date(2022, 11, 30))
_START_2023 = (date(2023, 2, 1), date(2023, 9, 29))
_LATER = (date(2023, 3, 1), date(2024, 12, 13))
# 57 projects start in 2020, 17 are decided but not yet started at the end of 2021 (the
# "in Prüfung" of the 2021 report). At the end of 2021: 1 completed, 55 in implementation,
# 17 in Prüfung, 1 merged; 2022: 22 completed, 13 discontinued (33 in implementation and
# 5 in Prüfung: illustrative); 2024: 42 completed, 16 in implementation, 15 discontinued.
COURSES: dict[str, _Course] = {
    "merged 2021": _Course(1, _EARLY, "merged", (date(2021, 3, 1), date(2021, 9, 30))),
    "completed 2021": _Course(1, _EARLY, "completed", (date(2021, 6, 1), date(2021, 11, 30))),
    "completed 2022": _Course(21, _EARLY, "completed", (date(2022, 1, 10), date(2022, 12, 16))),
    "discontinued 2022": _Course(9, _EARLY, "discontinued", (date(2022, 2, 1), date(2022, 12, 9))),
    "completed later": _Course(16, _EARLY, "completed", _LATER),
    "discontinued later": _Course(1, _EARLY, "discontinued", _LATER),
    "going on": _Course(8, _EARLY, "implementation", None),
    "dropped 2022": _Course(4, None, "discontinued", (date(2022, 3, 1), date(2022, 11, 30))),
    "2022 completed": _Course(3, _START_2022, "completed", _LATER),
    "2022 discontinued": _Course(1, _START_2022, "discontinued", _LATER),
    "2022 going on": _Course(4, _START_2022, "implementation", None),
    "2023 completed": _Course(1, _START_2023, "completed", (date(2024, 3, 1), date(2024, 12, 13))),
    "2023 going on": _Course(4, _START_2023, "implementation", None),
}
DEMO_FILES = ("ruhrflow.db", "ruhrflow.db-wal", "ruhrflow.db-shm", "ruhrflow.toml")

Progress = Callable[[str], None]


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Berlin wall-clock moment as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


SAMPLE_DATA = (
    "Beispieldaten aus „ruhrflow demo“, keine amtlichen Angaben. Die 75 Vorschläge stammen aus"
    " öffentlichen Angaben der Landesregierung NRW oder sind Platzhalter; Ressorts und Kosten"
    " sind zum Teil angenommen. Welches Projekt wann welchen Stand erreicht, ist erfunden: nur"
    " die Gesamtzahlen zu den Stichtagen der Fortschrittsberichte entsprechen den"
    " veröffentlichten."
)
"""What the demo's database says of itself (``installation.sample_data``): shown on every
page of a board published from it and in the web application running on it."""


class DemoExists(InvalidInput):
    """The demo directory holds a previous run."""


def prepare_directory(directory: Path, *, fresh: bool) -> None:
    """Make ``directory`` ready; refuse to overwrite a previous run unless ``fresh``."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in (*DEMO_FILES, "mail") if (directory / name).exists()]
    if existing and not fresh:
        raise DemoExists(
            f"{directory} holds a previous demo run ({', '.join(existing)});"
            " use --fresh to replace it, or --dir for another directory"
        )
    for name in existing:  # only what the demo itself writes
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()


def write_config(directory: Path) -> Path:
    """The demo's configuration: its own SQLite file and Maildir, nothing else changed."""
    path = directory / "ruhrflow.toml"
    db = (directory / "ruhrflow.db").resolve()
    mail = (directory / "mail").resolve()
    path.write_text(
        "# Written by `ruhrflow demo`: the embedded default, inside this directory.\n"
        f'[database]\nurl = "sqlite:///{db.as_posix()}"\n\n'
        f'[mail]\ntransport = "maildir"\nmaildir = "{mail.as_posix()}"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class DemoSummary:
    """What the run produced, for the closing summary and the tests."""

    directory: Path
    config: Path
    database: Path
    maildir: Path
    seconds: float
    states: dict[str, int]
    status_rows: list[dict[str, Any]]
    notices: dict[str, dict[str, int]]
    overdue: list[dict[str, Any]]
    verify_ok: bool
    verify_text: str
    history_rows: int
    funds_2020: Decimal


@dataclass(order=True)
class _Event:
    when: datetime
    order: int
    label: str = field(compare=False)
    action: Callable[[datetime], None] = field(compare=False)


class _Simulation:
    """The clock, the queue of scripted steps and the scheduler moments between them."""

    def __init__(self, runtime: Any, progress: Progress) -> None:

        self.runtime = runtime
        self.engine = runtime.engine
        self.progress = progress
        self.now = at(2019, 7, 1, 9)
        self.hooks = scheduler_hooks(runtime, clock=lambda: self.now)
        self.queue: list[_Event] = []
        self._order = 0
        self.next_digest = _next_monday_seven(self.now)
        self.fired = {"reminder": 0, "escalation": 0}
        self.quarter = _quarter(self.now)

    def schedule(self, when: datetime, label: str, action: Callable[[datetime], None]) -> None:
        """Run ``action(now)`` at ``when`` (steps at the same moment keep their order)."""
        self._order += 1
        heapq.heappush(self.queue, _Event(when, self._order, label, action))

    def _next_rung(self) -> datetime | None:
        with self.engine.store.read() as conn:
            return demo_store.next_rung_at(conn)

    def _reach(self, now: datetime) -> None:
        """Move the clock to ``now``, with a line for every simulated quarter begun."""
        while _quarter(now) > self.quarter:
            year, q = self.quarter
            self.quarter = (year + q // 4, q % 4 + 1)
            with self.engine.store.read() as conn:
                entries = chains.count_entries(conn)
            start = date(self.quarter[0], 3 * self.quarter[1] - 2, 1)
            self.progress(
                f"{start:%Y-%m-%d}  quarter {self.quarter[0]}-Q{self.quarter[1]} begins:"
                f" {entries} history entries, {self.fired['reminder']} reminders and"
                f" {self.fired['escalation']} escalations so far"
            )
        self.now = now

    def _tick(self, now: datetime, *, digest: bool) -> None:

        self._reach(now)
        done = tick(self.runtime, self.hooks, now, digest=digest)
        counts = done.sweep.counts()
        self.fired["reminder"] += counts["reminder"]
        self.fired["escalation"] += counts["escalation"]

    def run_until(self, until: datetime) -> None:
        """Let the scheduler do everything that falls due before ``until``."""
        while True:
            rung = self._next_rung()
            moment = min(m for m in (rung, self.next_digest) if m is not None)
            if moment > until:
                break
            is_digest = moment >= self.next_digest
            if is_digest:
                self.next_digest = _next_monday_seven(self.next_digest + timedelta(minutes=1))
            self._tick(moment, digest=is_digest)
        self._reach(until)

    def run(self) -> None:
        """Play every scripted step in time order, the scheduler in between."""
        while self.queue:
            event = heapq.heappop(self.queue)
            self.run_until(event.when)
            self._reach(event.when)
            event.action(event.when)
            if self.hooks.deliver_outbox is not None:
                self.hooks.deliver_outbox()
        self.run_until(END.astimezone(UTC))


def _quarter(moment: datetime) -> tuple[int, int]:
    local = moment.astimezone(BERLIN)
    return local.year, (local.month - 1) // 3 + 1


def _next_monday_seven(after: datetime) -> datetime:
    local = after.astimezone(BERLIN)
    monday = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    moment = datetime(monday.year, monday.month, monday.day, 7, 0, tzinfo=BERLIN)
    if moment.astimezone(UTC) < after:
        moment = moment + timedelta(days=7)
        moment = datetime(moment.year, moment.month, moment.day, 7, 0, tzinfo=BERLIN)
    return moment.astimezone(UTC)


def _on(day: date, rng: random.Random) -> datetime:
    """A moment during office hours on ``day`` (Berlin)."""
    return at(day.year, day.month, day.day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))


def _between(start: date, end: date, rng: random.Random) -> datetime:
    """An office-hours moment on a working day between ``start`` and ``end``."""
    days = [start + timedelta(n) for n in range((end - start).days + 1)]
    weekdays = [d for d in days if d.weekday() < 5] or days
    return _on(rng.choice(weekdays), rng)


@dataclass(frozen=True)
class _Proposal:
    key: str
    title: str
    forum: int
    lead: str
    cost: Decimal


class _Round:
    """The script of the 2019 round, step by step."""

    def __init__(self, sim: _Simulation, proposals: list[_Proposal], progress: Progress) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.p = proposals
        self.rng = random.Random(SEED)
        self.progress = progress
        self.altschulden = next(p for p in proposals if "Altschulden" in p.title)
        self.decided = [p for p in proposals if p is not self.altschulden]

    def ministry(self, p: _Proposal) -> str:
        return p.lead.lower()

    def advance(self, p: _Proposal, trigger: str, actor: str, now: datetime, **kw: Any) -> None:
        self.engine.advance(p.key, trigger, actor=actor, now=now, **kw)

    def bulk(self, keys: list[str], trigger: str, now: datetime, **kw: Any) -> int:
        result = self.engine.advance_many(trigger, keys=keys, actor=COORDINATOR, now=now, **kw)
        return len(result.applied)

    def say(self, when: datetime, text: str) -> None:
        self.progress(f"{when.astimezone(BERLIN):%Y-%m-%d}  {text}")

    # --- phase 1: Zuhören ---------------------------------------------------------------

    def submissions(self) -> None:
        for p in self.p:
            if p.forum <= 14:
                when = _between(date(2019, 7, 2), date(2019, 7, 5), self.rng)
            elif p.forum <= 17:  # after the first reminder
                when = _on(date(2019, 7, 10), self.rng)
            else:  # on the last day, after the second reminder
                when = at(2019, 7, 15, self.rng.randint(9, 12))
            self.sim.schedule(when, "submit", self._submit(p))
        self.sim.schedule(
            at(2019, 7, 15, 18, 30),
            "forums done",
            lambda now: self.say(now, "Themenforen: all 75 proposals submitted by 15 Jul"),
        )

    def _submit(self, p: _Proposal) -> Callable[[datetime], None]:
        return lambda now: self.advance(p, "submit", f"forum-{p.forum:02d}", now)

    # --- phase 2: Entscheiden (consultation, review, cabinet) -----------------------------

    def consultation(self) -> None:
        keys = [p.key for p in self.p]

        def open_all(now: datetime) -> None:
            n = self.bulk(
                keys,
                "open_consultation",
                now,
                comment="Beteiligung von Kommunen, IHK, HWK und Verbänden für drei Wochen",
            )
            self.say(now, f"consultation opened for {n} proposals (three weeks)")

        self.sim.schedule(at(2019, 8, 19, 10), "open consultation", open_all)
        late = set(self.rng.sample(keys, 12))
        groups = {
            "kommune": "Kommune im Ruhrgebiet",
            "ihk": "Industrie- und Handelskammer",
            "hwk": "Handwerkskammer",
            "verband": "Verband",
        }
        for p in self.p:
            late_group = self.rng.choice(list(groups)) if p.key in late else None
            for group, party in groups.items():
                if group == late_group:
                    when = _between(date(2019, 9, 10), date(2019, 9, 12), self.rng)
                else:
                    when = _between(date(2019, 8, 20), date(2019, 9, 6), self.rng)
                self.sim.schedule(when, "statement", self._statement(p, group, party))
        for day in (date(2019, 9, 24), date(2019, 9, 26)):  # two townhalls (dates illustrative)
            for p in self.rng.sample(self.p, 20):
                self.sim.schedule(
                    at(day.year, day.month, day.day, 19),
                    "townhall",
                    self._statement(p, "townhall", "Townhall mit dem Ministerpräsidenten"),
                )
        slow = self.rng.sample(keys, 15)  # the office closes these after the escalation

        def close(selection: list[str]) -> Callable[[datetime], None]:
            def run(now: datetime) -> None:
                n = self.bulk(selection, "close_consultation", now)
                self.say(now, f"consultation closed for {n} proposals")

            return run

        first = [k for k in keys if k not in slow]
        self.sim.schedule(at(2019, 9, 10, 10), "close", close(first))
        self.sim.schedule(at(2019, 9, 13, 10), "close late", close(slow))

    def _statement(self, p: _Proposal, group: str, party: str) -> Callable[[datetime], None]:
        position = self.rng.choices(
            ("support", "concerns", "neutral", "oppose"), weights=(60, 25, 10, 5)
        )[0]

        def record(now: datetime) -> None:
            self.engine.record_statement(
                p.key,
                party=f"{party} (illustrativ)",
                group=group,
                position=position,
                text="Stellungnahme im Beteiligungsverfahren (illustrativ)",
                actor=COORDINATOR,
                now=now,
            )

        return record

    def cabinet(self) -> None:
        order = self.rng.sample(self.p, len(self.p))
        for i, p in enumerate(order):
            if i < 60:
                when = _between(date(2019, 9, 30), date(2019, 10, 18), self.rng)
            elif i < 70:  # after the first reminder
                when = _between(date(2019, 10, 22), date(2019, 10, 25), self.rng)
            else:  # after the due date and the escalation
                when = _on(date(2019, 10, 30), self.rng)
            self.sim.schedule(when, "kabinettvorlage", self._vorlage(p))

        def decide(now: datetime) -> None:
            self.advance(
                self.altschulden,
                "withdraw",
                COORDINATOR,
                now,
                comment="Im Konsens mit den Kommunen herausgenommen",
                fields={
                    "reason": "Die kommunalen Altschulden werden außerhalb der"
                    " Ruhr-Konferenz behandelt."
                },
            )
            n = self.bulk(
                [p.key for p in self.decided],
                "approve",
                now,
                comment="Kabinettbeschluss vom 5.11.2019",
                fields={"decision_date": "2019-11-05"},
            )
            self.say(now, f"cabinet: {n} approved in one transaction, Altschulden withdrawn")

        self.sim.schedule(at(2019, 11, 5, 12), "cabinet", decide)

    def _vorlage(self, p: _Proposal) -> Callable[[datetime], None]:
        return lambda now: self.advance(
            p,
            "submit_to_cabinet",
            self.ministry(p),
            now,
        )

    # --- phase 3: Handeln (budget, implementation, outcomes) ------------------------------

    def budget(self) -> None:
        keys = [p.key for p in self.decided]

        def request(now: datetime) -> None:
            n = self.bulk(keys, "request_budget", now, comment="Ergänzungsvorlage 2020")
            self.say(now, f"Ergänzungsvorlage: {n} proposals registered for the 2020 budget")

        self.sim.schedule(at(2019, 11, 12, 10), "budget", request)
        shares = self._shares_2020()
        late = set(self.rng.sample(keys, 6))
        for p in self.decided:
            late_one = p.key in late
            when = (
                _between(date(2019, 12, 16), date(2019, 12, 17), self.rng)
                if late_one
                else _between(date(2019, 11, 18), date(2019, 12, 6), self.rng)
            )
            self.sim.schedule(when, "funding", self._funding(p, shares[p.key]))
        on_time = [k for k in keys if k not in late]
        self.sim.schedule(at(2019, 12, 12, 11), "secure", self._secure(on_time))
        self.sim.schedule(at(2019, 12, 18, 11), "secure late", self._secure(sorted(late)))

    def _shares_2020(self) -> dict[str, Decimal]:
        """60.8 Mio € for 2020 spread over the projects (by the square root of their cost)."""
        weights = {p.key: math.sqrt(float(p.cost)) for p in self.decided}
        total = sum(weights.values())
        shares = {
            k: (FUNDS_2020 * Decimal(w / total)).quantize(Decimal(1000)) for k, w in weights.items()
        }
        last = self.decided[-1].key
        shares[last] += FUNDS_2020 - sum(shares.values())
        return shares

    def _funding(self, p: _Proposal, share: Decimal) -> Callable[[datetime], None]:
        def add(now: datetime) -> None:
            actor = self.ministry(p)
            self.engine.add_funding(
                p.key, source="land", amount=share, year=2020, secured=True, actor=actor, now=now
            )
            rest = p.cost - share
            if rest > 0:  # later years and other sources: illustrative
                source = "bund" if p.cost > 100_000_000 else "land"
                self.engine.add_funding(
                    p.key, source=source, amount=rest, year=2021, secured=True, actor=actor,
                    now=now,
                )  # fmt: skip

        return add

    def _secure(self, keys: list[str]) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            n = self.bulk(keys, "secure_funding", now, comment="Haushalt 2020")
            self.say(now, f"financing secured for {n} proposals")

        return run

    def implementation(self) -> None:
        order = self.rng.sample(self.decided, len(self.decided))
        course_of: dict[str, str] = {}
        for p in self.decided:  # the few projects whose course is public (or fixed here)
            if "Hebammen" in p.title:  # judged unnecessary after a federal platform launched
                course_of[p.key] = "discontinued 2022"
            elif "Familiengrundschul" in p.title:  # funded to the end of 2022
                course_of[p.key] = "completed 2022"
            elif p.key == "RK-03-01":  # SiKo Ruhr, founded on 22 Jun 2020, goes on
                course_of[p.key] = "going on"
        remaining = {name: c.count for name, c in COURSES.items()}
        for name in course_of.values():
            remaining[name] -= 1
        pool = [p for p in order if p.key not in course_of]
        for name, count in remaining.items():
            for _ in range(count):
                course_of[pool.pop().key] = name
        for p in self.decided:
            name = course_of[p.key]
            course = COURSES[name]
            end: date | None = None
            if name == "completed 2022" and "Familiengrundschul" in p.title:
                end = date(2022, 12, 16)
            elif course.end is not None:
                end = _between(*course.end, self.rng).astimezone(BERLIN).date()
            if course.start is None:  # decided, never started: dropped from "in Prüfung"
                assert end is not None
                self.sim.schedule(_on(end, self.rng), "outcome", self._finish(p, course.outcome))
                continue
            if p.key == "RK-03-01":
                start = at(2020, 6, 22, 10)  # SiKo Ruhr founded on 22 Jun 2020
            else:
                start = _between(*course.start, self.rng)
            self.sim.schedule(start, "start", self._start(p, course.outcome, end))

    def _start(self, p: _Proposal, outcome: str, end: date | None) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            self.advance(p, "start", self.ministry(p), now)
            self._next_report(p, outcome, end, progress=0)

        return run

    def _next_report(self, p: _Proposal, outcome: str, end: date | None, progress: int) -> None:
        due = self._progress_due(p)
        roll = self.rng.random()
        if roll < 0.80:  # in the last weeks of the quarter, before the reminder
            when = due - timedelta(days=self.rng.randint(8, 20))
        elif roll < 0.92:  # after the reminder and the due date
            when = due + timedelta(days=self.rng.randint(2, 4))
        else:  # after the escalation
            when = due + timedelta(days=self.rng.randint(9, 12))
        when_local = when.astimezone(BERLIN)
        when = _on(when_local.date(), self.rng)
        if end is not None and when.astimezone(BERLIN).date() >= end:
            self.sim.schedule(_on(end, self.rng), "outcome", self._finish(p, outcome))
            return
        if when > END:
            return
        value = min(95, progress + self.rng.randint(5, 20))

        def report(now: datetime) -> None:
            self.advance(p, "report_progress", self.ministry(p), now, fields={"progress": value})
            self._next_report(p, outcome, end, value)

        self.sim.schedule(when, "report", report)

    def _progress_due(self, p: _Proposal) -> datetime:
        with self.engine.store.read() as conn:
            return demo_store.open_due_at(conn, p.key, "progress_report")

    def _finish(self, p: _Proposal, outcome: str) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            if outcome == "completed":
                self.advance(p, "complete", self.ministry(p), now, comment="Projekt abgeschlossen")
            elif outcome == "merged":
                self.advance(
                    p,
                    "merge",
                    COORDINATOR,
                    now,
                    fields={"reason": "In einem anderen Vorhaben aufgegangen (illustrativ)"},
                )
            else:
                reason = (
                    "Nach dem Start einer Bundesplattform nicht mehr erforderlich"
                    if "Hebammen" in p.title
                    else "Nicht weiterverfolgt (illustrativ)"
                )
                self.advance(p, "discontinue", COORDINATOR, now, fields={"reason": reason})

        return run


def run_demo(directory: Path, *, fresh: bool, progress: Progress) -> DemoSummary:
    """Play the 2019 round in ``directory``; return the summary."""

    started = time.monotonic()
    prepare_directory(directory, fresh=fresh)
    config = write_config(directory)
    settings = load_settings(config, env={})  # the demo ignores RUHRFLOW_* of the shell
    runtime = open_runtime(settings)
    try:
        sim = _Simulation(runtime, progress)
        initialise(runtime.store, load_definition(settings.definition_path), sim.now)
        with runtime.store.write() as conn:  # every board and page made from it says so
            mark_sample_data(conn, SAMPLE_DATA)
        data = shipped_file("definitions", "data/ruhr_konferenz_2019.csv").read_bytes()
        created, _ = import_rows(
            Intake.of(runtime.engine), read_csv(data), actor=COORDINATOR, now=sim.now
        )
        progress(f"2019-07-01  imported {len(created)} proposals of the 20 Themenforen")
        proposals = _load(runtime)
        script = _Round(sim, proposals, progress)
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
        return _summary(runtime, directory, config, time.monotonic() - started)
    finally:
        runtime.close()


def _load(runtime: Any) -> list[_Proposal]:
    with runtime.store.read() as conn:
        rows = demo_store.all_proposals(conn)
    return [
        _Proposal(r["key"], r["title"], r["themenforum"], r["lead"], Decimal(r["cost_estimate"]))
        for r in rows
    ]


def _summary(runtime: Any, directory: Path, config: Path, seconds: float) -> DemoSummary:
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
