"""Random trigger sequences on random proposals, on SQLite and on PostgreSQL.

Whatever actors fire whatever triggers with whatever fields, no proposal reaches a
state the definition forbids, the history has no gaps, replaying it reproduces the
current state, and every entry's hash chains to the one before.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import hypothesis.strategies as st
from conftest import DEFINITION, NOW
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from support import LIFECYCLE, add_proposal, on_the_day, prepare

from workflow.access.directory import load_directory
from workflow.app.settings import Settings
from workflow.engine.chain import GENESIS, entry_hash
from workflow.engine.engine import Engine
from workflow.errors import (
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
    UnknownProposal,
)
from workflow.process.definition import load_definition
from workflow.store import repo
from workflow.store.db import Store
from workflow.store.schema import history

DEFINITION_V1 = load_definition(DEFINITION)
TRIGGERS = sorted({t.trigger for t in DEFINITION_V1.transitions})
ACTORS = ["koordination", "pruefung", "im", "vm", "mwide", "forum-01", "forum-03", "ruhrflow"]
MINISTRIES = ["IM", "VM", "MWIDE"]
GROUPS = ["kommune", "ihk", "hwk", "verband", "townhall", "buerger"]
REFUSALS = (TransitionNotAllowed, PermissionDenied, InvalidInput, UnknownProposal)

field_values = st.fixed_dictionaries(
    {},
    optional={
        "decision_date": st.sampled_from(["2019-11-05", "2020-02-29", "05.11.2019", ""]),
        "reason": st.sampled_from(["Konsens mit den Kommunen", "zu teuer", " "]),
        "progress": st.integers(min_value=-5, max_value=105),
        "cabinet_session": st.just("2019-11-05"),
    },
)


class Target:
    """Where the machine under test finds its database (set by the test function)."""

    settings: Settings | None = None


class ProcessStateMachine(RuleBasedStateMachine):
    """Drives the engine with random commands and checks the invariants after each."""

    proposals = Bundle("proposals")

    def __init__(self) -> None:
        super().__init__()
        assert Target.settings is not None
        self.store = Store.open(Target.settings.database_url)
        self.engine = Engine(self.store, load_directory(Target.settings.directory_path))
        self.now = NOW
        self.expected: dict[str, str] = {}  # key -> state our model expects
        self.lead: dict[str, str] = {}

    def teardown(self) -> None:
        self.store.dispose()

    def tick(self) -> Any:
        self.now += timedelta(hours=1)
        return self.now

    # --- rules ------------------------------------------------------------------------------

    @initialize(target=proposals)
    def first_proposal(self) -> str:
        return self._add(3, "IM", 1_000_000)

    @rule(
        target=proposals,
        forum=st.sampled_from([1, 3]),
        lead=st.sampled_from(MINISTRIES),
        cost=st.one_of(st.none(), st.integers(min_value=1, max_value=5_000_000)),
    )
    def add(self, forum: int, lead: str, cost: int | None) -> str:
        return self._add(forum, lead, cost)

    def _add(self, forum: int, lead: str, cost: int | None) -> str:
        key = add_proposal(self.engine, self.tick(), forum=forum, lead=lead, cost=cost)
        self.expected[key] = DEFINITION_V1.initial
        self.lead[key] = lead
        return key

    @rule(
        key=proposals,
        trigger=st.sampled_from(TRIGGERS),
        actor=st.sampled_from(ACTORS),
        fields=field_values,
    )
    def fire(self, key: str, trigger: str, actor: str, fields: dict[str, Any]) -> None:
        before = self.expected[key]
        try:
            applied = self.engine.advance(key, trigger, actor=actor, now=self.tick(), fields=fields)
        except REFUSALS:
            return
        transition = DEFINITION_V1.transition(trigger, before)
        assert transition is not None, f"{trigger} fired from {before}"
        assert (applied.from_state, applied.to_state) == (before, transition.dest)
        self.expected[key] = applied.to_state

    @rule(
        keys=st.lists(proposals, min_size=1, max_size=4, unique=True),
        trigger=st.sampled_from(TRIGGERS),
        partial=st.booleans(),
        fields=field_values,
    )
    def fire_many(self, keys: list[str], trigger: str, partial: bool, fields: Any) -> None:
        try:
            result = self.engine.advance_many(
                trigger, keys=keys, actor="koordination", now=self.tick(), fields=fields,
                partial=partial,
            )  # fmt: skip
        except REFUSALS:
            return
        assert {a.key for a in result.applied} | {k for k, _ in result.refused} == set(keys)
        for a in result.applied:
            assert a.from_state == self.expected[a.key]
            self.expected[a.key] = a.to_state

    @rule(key=proposals)
    def step_along(self, key: str) -> None:
        """Take the next step of the usual lifecycle, so that runs reach the later states."""
        state = self.expected[key]
        steps = [(t, a, f) for t, a, f in LIFECYCLE if DEFINITION_V1.transition(t, state)]
        if not steps:
            return
        trigger, actor, fields = steps[0]
        now = self.tick()
        prepare(self.engine, key, trigger, now)
        lead = self.lead[key].lower()
        try:
            applied = self.engine.advance(
                key,
                trigger,
                actor=lead if actor == "LEAD" else actor,
                now=now,
                fields=on_the_day(fields, now),
            )
        except TransitionNotAllowed:  # e.g. no cost estimate: the guards say no
            return
        self.expected[key] = applied.to_state

    @rule(key=proposals, group=st.sampled_from(GROUPS), actor=st.sampled_from(ACTORS))
    def record_statement(self, key: str, group: str, actor: str) -> None:
        try:
            self.engine.record_statement(key, party=f"P-{group}", group=group, position="support",
                                         text="", actor=actor, now=self.tick())  # fmt: skip
        except REFUSALS:
            return
        assert self.expected[key] in DEFINITION_V1.statement_states

    @rule(
        key=proposals,
        amount=st.integers(min_value=1, max_value=6_000_000),
        secured=st.booleans(),
        actor=st.sampled_from(ACTORS),
    )
    def add_funding(self, key: str, amount: int, secured: bool, actor: str) -> None:
        try:
            self.engine.add_funding(key, source="land", amount=Decimal(amount), year=2020,
                                    secured=secured, actor=actor, now=self.tick())  # fmt: skip
        except REFUSALS:
            return
        assert not DEFINITION_V1.is_final(self.expected[key])

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def history_replays_to_the_current_state(self) -> None:
        with self.store.read() as conn:
            rows = repo.load_proposals(conn, keys=sorted(self.expected))
            chains: dict[str, list[Any]] = {k: [] for k in self.expected}
            stmt = (
                select(history)
                .where(history.c.chain.in_(sorted(self.expected)))
                .order_by(history.c.chain, history.c.seq)
            )
            for entry in conn.execute(stmt).mappings():
                chains[entry["chain"]].append(entry)
        assert {r["key"] for r in rows} == set(self.expected)
        for r in rows:
            key, entries = r["key"], chains[r["key"]]
            # the state is one of the definition, and the one our model expects
            assert r["state"] in DEFINITION_V1.states
            assert r["state"] == self.expected[key]
            # seq has no gaps; row version and chain head follow the history
            assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
            assert r["history_seq"] == len(entries) == r["row_version"]
            assert r["history_head"] == entries[-1]["hash"]
            # the hash chain
            assert entries[0]["prev_hash"] == GENESIS
            for previous, entry in pairwise(entries):
                assert entry["prev_hash"] == previous["hash"]
            for entry in entries:
                assert entry_hash(entry) == entry["hash"]
            # replay: created → initial, then every transition allowed from where it stood
            assert entries[0]["kind"] == "created"
            state = entries[0]["to_state"]
            assert state == DEFINITION_V1.initial
            for entry in entries[1:]:
                assert entry["from_state"] == state
                if entry["kind"] == "transition":
                    t = DEFINITION_V1.transition(entry["trigger"], state)
                    assert t is not None and t.dest == entry["to_state"]
                    state = entry["to_state"]
                else:
                    assert entry["to_state"] == state
            assert state == r["state"]


def test_random_trigger_sequences_keep_the_process_sound(settings: Settings) -> None:
    # ``settings`` belongs to a fresh database of this backend (SQLite, then PostgreSQL).
    Target.settings = settings
    try:
        run_state_machine_as_test(ProcessStateMachine, settings=SUITE_SETTINGS)
    finally:
        Target.settings = None


SUITE_SETTINGS = hypothesis_settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
