"""The script of the 2019 round, step by step: Zuhören, Entscheiden, Handeln.

Single dates inside the phases, statements, late parties, progress reports and funding
beyond 2020 are illustrative, drawn from a seeded random generator, so every run is the
same (workflow/demo/facts.py says what is public fact).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from workflow.demo.clock import Progress, Simulation, between, on
from workflow.demo.facts import COORDINATOR, COURSES, END, FUNDS_2020, SEED, at
from workflow.process.vocabulary import BERLIN
from workflow.store import demo as demo_store


@dataclass(frozen=True)
class Proposal:
    key: str
    title: str
    forum: int
    lead: str
    cost: Decimal


class Round:
    """The script of the 2019 round, step by step."""

    def __init__(self, sim: Simulation, proposals: list[Proposal], progress: Progress) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.store = sim.store
        self.p = proposals
        self.rng = random.Random(SEED)
        self.progress = progress
        self.altschulden = next(p for p in proposals if "Altschulden" in p.title)
        self.decided = [p for p in proposals if p is not self.altschulden]

    def ministry(self, p: Proposal) -> str:
        return p.lead.lower()

    def advance(self, p: Proposal, trigger: str, actor: str, now: datetime, **kw: Any) -> None:
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
                when = between(date(2019, 7, 2), date(2019, 7, 5), self.rng)
            elif p.forum <= 17:  # after the first reminder
                when = on(date(2019, 7, 10), self.rng)
            else:  # on the last day, after the second reminder
                when = at(2019, 7, 15, self.rng.randint(9, 12))
            self.sim.schedule(when, "submit", self._submit(p))
        self.sim.schedule(
            at(2019, 7, 15, 18, 30),
            "forums done",
            lambda now: self.say(now, "Themenforen: all 75 proposals submitted by 15 Jul"),
        )

    def _submit(self, p: Proposal) -> Callable[[datetime], None]:
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
                    when = between(date(2019, 9, 10), date(2019, 9, 12), self.rng)
                else:
                    when = between(date(2019, 8, 20), date(2019, 9, 6), self.rng)
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

    def _statement(self, p: Proposal, group: str, party: str) -> Callable[[datetime], None]:
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
                when = between(date(2019, 9, 30), date(2019, 10, 18), self.rng)
            elif i < 70:  # after the first reminder
                when = between(date(2019, 10, 22), date(2019, 10, 25), self.rng)
            else:  # after the due date and the escalation
                when = on(date(2019, 10, 30), self.rng)
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

    def _vorlage(self, p: Proposal) -> Callable[[datetime], None]:
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
                between(date(2019, 12, 16), date(2019, 12, 17), self.rng)
                if late_one
                else between(date(2019, 11, 18), date(2019, 12, 6), self.rng)
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

    def _funding(self, p: Proposal, share: Decimal) -> Callable[[datetime], None]:
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
                end = between(*course.end, self.rng).astimezone(BERLIN).date()
            if course.start is None:  # decided, never started: dropped from "in Prüfung"
                assert end is not None
                self.sim.schedule(on(end, self.rng), "outcome", self._finish(p, course.outcome))
                continue
            start = (
                at(2020, 6, 22, 10)  # SiKo Ruhr founded on 22 Jun 2020
                if p.key == "RK-03-01"
                else between(*course.start, self.rng)
            )
            self.sim.schedule(start, "start", self._start(p, course.outcome, end))

    def _start(self, p: Proposal, outcome: str, end: date | None) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            self.advance(p, "start", self.ministry(p), now)
            self._next_report(p, outcome, end, progress=0)

        return run

    def _next_report(self, p: Proposal, outcome: str, end: date | None, progress: int) -> None:
        due = self._progress_due(p)
        roll = self.rng.random()
        if roll < 0.80:  # in the last weeks of the quarter, before the reminder
            when = due - timedelta(days=self.rng.randint(8, 20))
        elif roll < 0.92:  # after the reminder and the due date
            when = due + timedelta(days=self.rng.randint(2, 4))
        else:  # after the escalation
            when = due + timedelta(days=self.rng.randint(9, 12))
        when_local = when.astimezone(BERLIN)
        when = on(when_local.date(), self.rng)
        if end is not None and when.astimezone(BERLIN).date() >= end:
            self.sim.schedule(on(end, self.rng), "outcome", self._finish(p, outcome))
            return
        if when > END:
            return
        value = min(95, progress + self.rng.randint(5, 20))

        def report(now: datetime) -> None:
            self.advance(p, "report_progress", self.ministry(p), now, fields={"progress": value})
            self._next_report(p, outcome, end, value)

        self.sim.schedule(when, "report", report)

    def _progress_due(self, p: Proposal) -> datetime:
        with self.store.read() as conn:
            return demo_store.open_due_at(conn, p.key, "progress_report")

    def _finish(self, p: Proposal, outcome: str) -> Callable[[datetime], None]:
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
