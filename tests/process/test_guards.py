"""Guards on plain values: an in-memory GuardContext, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from workflow.process.guards import REGISTRY, GuardContext, MemoryGuardContext

NOW = datetime(2019, 8, 1, 9, 0, tzinfo=UTC)
PROPOSAL = {"key": "RK-03-01", "lead": "IM", "cost_estimate": "1200000", "handlungsfeld": 3}


def check(name: str, ctx: GuardContext) -> str | None:
    return REGISTRY[name].check(ctx)


def test_consultation_is_complete_with_every_group_or_after_its_deadline() -> None:
    # given statements from Kommunen and IHK only
    partial = MemoryGuardContext(PROPOSAL, NOW, statements_from=frozenset({"kommune", "ihk"}))
    # then the guard names the groups still missing
    reason = check("consultation_complete", partial)
    assert (
        reason
        == "no statement yet from HWK, Verbände, and the consultation deadline has not passed"
    )
    # when the consultation deadline has passed, or every group has spoken, it lets go
    late = MemoryGuardContext(
        PROPOSAL,
        NOW,
        statements_from=frozenset({"kommune"}),
        passed_deadlines=frozenset({"consultation"}),
    )
    assert check("consultation_complete", late) is None
    every = MemoryGuardContext(
        PROPOSAL, NOW, statements_from=frozenset({"kommune", "ihk", "hwk", "verband"})
    )
    assert check("consultation_complete", every) is None


def test_financing_is_secured_when_secured_funding_covers_the_cost_estimate() -> None:
    short = MemoryGuardContext(PROPOSAL, NOW, funding_secured=Decimal("1000000"))
    assert check("financing_secured", short) == (
        "secured funding 1,000,000.00 EUR is below the cost estimate 1,200,000.00 EUR"
    )
    covered = MemoryGuardContext(PROPOSAL, NOW, funding_secured=Decimal("1200000"))
    assert check("financing_secured", covered) is None


def test_the_lead_ministry_must_be_in_the_directory() -> None:
    unknown = MemoryGuardContext(PROPOSAL, NOW)
    assert check("lead_ministry_assigned", unknown) == "lead ministry 'IM' is not in the directory"
    known = MemoryGuardContext(PROPOSAL, NOW, ministries=frozenset({"IM"}))
    assert check("lead_ministry_assigned", known) is None
