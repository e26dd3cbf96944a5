"""DeadlinePlans: the deadline effect's remembered plans are exactly plan_deadline's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from conftest import DEFINITION
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.process.deadline_rules import DeadlinePlans, plan_deadline, rules_of
from workflow.process.definition import load_definition

definition = load_definition(DEFINITION)
RULES = rules_of(definition)
# around the DST changes and midnight in Berlin, over years with their holidays
moments = st.datetimes(datetime(2019, 1, 1), datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
days = st.dates(date(2019, 1, 1), date(2026, 12, 31))


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(RULES),
            moments,
            st.timedeltas(timedelta(days=-30), timedelta(days=400)),
            st.none() | days | days.map(date.isoformat),
            st.none() | st.integers(0, 5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_remembered_plan_is_the_planned_one(cases: list[tuple]) -> None:  # type: ignore[type-arg]
    plans = DeadlinePlans()  # one for all cases (and each case twice): remembered ones reused
    for rule, entered, later, value, at_rung in cases * 2:
        now = entered + later  # reminders past at now are left out, each time anew
        data = {} if rule.field is None else {rule.field: value}
        setting = {} if rule.date_setting is None else {rule.date_setting: value}
        every = plan_deadline(rule, entered, data, setting, datetime.min.replace(tzinfo=UTC))
        if at_rung is not None and every is not None and every.rungs:
            now = every.rungs[at_rung % len(every.rungs)][1]  # exactly a rung's time
        assert plans.plan(rule, entered, data, setting, now) == plan_deadline(
            rule, entered, data, setting, now
        )


def test_each_definition_has_its_own_plans() -> None:
    # an equal rule of another definition object is planned anew, never taken for this one
    other = rules_of(load_definition(DEFINITION))
    plans = DeadlinePlans()
    entered = datetime(2019, 7, 15, 8, tzinfo=UTC)
    for rule, twin in zip(RULES, other, strict=True):
        a = plans.plan(rule, entered, {}, {}, entered)
        b = plans.plan(twin, entered, {}, {}, entered)
        assert a == b
        assert a is None or (a.rule is rule and b is not None and b.rule is twin)
