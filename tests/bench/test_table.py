"""The bench's table: how a line reads its target (no timing here, only the arithmetic)."""

from __future__ import annotations

import pytest

from bench.__main__ import table
from bench.support import Result


@pytest.mark.parametrize(
    ("kind", "ours", "baseline", "target", "status"),
    [
        ("max", 1.2, 1.0, 1.3, "PASS"),
        ("max", 1.4, 1.0, 1.3, "MISS"),
        ("min", None, None, 2.0, "MISS"),
        ("abs", 9.9, None, 10.0, "PASS"),
        ("abs", 10.1, None, 10.0, "MISS"),
        ("abs", None, None, 10.0, "MISS"),
    ],
)
def test_a_line_passes_only_within_its_target(
    kind: str, ours: float | None, baseline: float | None, target: float, status: str
) -> None:
    result = Result("line", ours=ours, baseline=baseline, target=target, kind=kind).settle()
    assert result.status == status


def test_an_absolute_line_prints_its_limit_in_seconds_and_no_ratio() -> None:
    printed = table([Result("demo", ours=12.5, target=10.0, kind="abs").settle()])
    row = printed.splitlines()[-1].split()
    assert row[1:] == ["12.50", "s", "-", "-", "≤", "10.00", "s", "MISS"]


def test_a_ratio_line_prints_its_ratio_and_target() -> None:
    printed = table([Result("bulk", ours=3.2, baseline=2.0, target=1.5).settle()])
    row = printed.splitlines()[-1].split()
    assert row[1:] == ["3.20", "s", "2.00", "s", "1.60×", "≤", "1.5×", "MISS"]
