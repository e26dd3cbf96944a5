"""``applied`` and ``notice`` make the frozen dataclasses ``Applied`` and ``Notice`` without a
``object.__setattr__`` per field: the instances must be exactly what the constructors make."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from workflow.engine.changes import Applied, applied
from workflow.notices.outbox import Notice, notice


def _applied_values() -> dict[str, Any]:
    return {
        "key": "RK-03-01", "proposal_id": 7, "trigger": "report_progress",
        "from_state": "implementation", "to_state": "implementation", "actor": "im",
        "comment": None, "fields": {"progress": 50}, "seq": 4,
        "at": datetime(2019, 11, 5, 10, tzinfo=UTC), "definition": None, "transition": None,
        "proposal": {"key": "RK-03-01"}, "kind": "transition",
    }  # fmt: skip


def _notice_values() -> dict[str, Any]:
    return {
        "idempotency_key": "transition:RK-03-01:4:status_change", "kind": "status_change",
        "proposal_id": 7, "recipients": (), "context": {"a": 1}, "calendar": None,
        "context_text": '{"a": 1}',
    }  # fmt: skip


def _alike(made: Any, expected: Any) -> None:
    assert type(made) is type(expected)
    assert made == expected
    assert repr(made) == repr(expected)
    assert list(vars(made).items()) == list(vars(expected).items())  # the same order too
    assert dataclasses.asdict(made) == dataclasses.asdict(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.kind = "changed"


@pytest.mark.parametrize(
    ("fast", "cls", "values"),
    [(applied, Applied, _applied_values), (notice, Notice, _notice_values)],
)
def test_made_fast_is_what_the_constructor_makes(fast: Any, cls: Any, values: Any) -> None:
    # every field in the order of the fields: the fast way
    _alike(fast(**values()), cls(**values()))
    # another order, or a default left out: the constructor's way, with its default
    backwards = dict(reversed(values().items()))
    _alike(fast(**backwards), cls(**backwards))
    fewer = values()
    fewer.pop("kind" if cls is Applied else "context_text")
    _alike(fast(**fewer), cls(**fewer))
    # a field the class does not have is refused as the constructor refuses it
    with pytest.raises(TypeError):
        fast(**values(), extra=1)


@pytest.mark.parametrize("cls", [Applied, Notice])
def test_the_fast_path_rests_on_plain_frozen_dataclasses(cls: type) -> None:
    # what filling __dict__ skips: a __post_init__, slots (no __dict__ to fill), a field the
    # constructor does not take (init=False) or a subclass made instead (review of #29)
    assert not hasattr(cls, "__post_init__")
    assert "__slots__" not in vars(cls)
    assert all(f.init for f in dataclasses.fields(cls))
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
