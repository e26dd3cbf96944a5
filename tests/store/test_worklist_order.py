"""The worklist's pages: an order without ties, and a ministry's page read either way alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import select
from support import add_proposal

from workflow.engine.engine import Engine
from workflow.store import worklist
from workflow.store.db import Store
from workflow.store.schema import deadlines, proposals

LATER = NOW + timedelta(days=400)
AT_ONCE = NOW + timedelta(days=2)  # after the deadlines the proposals' creation opened
MIDWAY = NOW + timedelta(days=1)  # between those and AT_ONCE


def _tied(engine: Engine) -> list[tuple[str, str]]:
    """Three proposals (two of IM, one of VM) and eight extra open deadlines all due at
    ``AT_ONCE``: six of RK-03-02, inserted with their ids out of order (a table's rows then
    lie otherwise than their ids), one each of the others. Returns the tied deadlines as
    ``(key, kind)`` in the order the pages must show them: by key, then by id."""
    for i, lead in enumerate(("IM", "IM", "VM")):
        add_proposal(engine, NOW + timedelta(hours=i), key=f"RK-03-{i + 1:02d}", lead=lead)
    with engine.store.write() as conn:
        found = {key: (pid, state) for pid, key, state in conn.execute(
            select(proposals.c.id, proposals.c.key, proposals.c.state)
        )}  # fmt: skip
        tied = [("RK-03-02", 1000 + n) for n in (5, 2, 6, 1, 4, 3)]
        tied += [("RK-03-01", 1010), ("RK-03-03", 1011)]
        for key, did in tied:
            pid, state = found[key]
            conn.execute(
                deadlines.insert().values(
                    id=did, proposal_id=pid, proposal_key=key, kind=f"tied_{did}", state=state,
                    entry_seq=1, due_at=AT_ONCE, status="open", created_at=NOW,
                )
            )  # fmt: skip
    return [(key, f"tied_{did}") for key, did in sorted(tied)]


def _page(store: Store, **given: Any) -> list[Sequence[Any]]:
    with store.read() as conn:
        return list(worklist.open_deadlines(conn, LATER, rungs=False, **given))


def _ids(rows: list[Sequence[Any]]) -> list[tuple[str, str, datetime]]:
    return [(row[0], row[3], row[4]) for row in rows]


@pytest.mark.parametrize("lead", [None, "im"])
def test_pages_split_between_one_proposals_deadlines_due_at_once_show_each_once(
    engine: Engine, lead: str | None
) -> None:
    # given one proposal's six deadlines due at the same moment, among others due then too
    order = _tied(engine)
    if lead is not None:
        order = [(key, kind) for key, kind in order if key != "RK-03-03"]
    everything = _ids(_page(engine.store, lead=lead))
    # when the worklist is read in pages of three (which split them), and of one
    for size in (3, 1):
        pages = [
            _ids(_page(engine.store, lead=lead, limit=size, offset=offset))
            for offset in range(0, len(everything), size)
        ]
        # then every deadline shows exactly once, the pages are the full list cut in
        # pieces, and the deadlines due at once come by key and then in the order they
        # were made (their ids)
        joined = [row for page in pages for row in page]
        assert joined == everything, (size, joined)
        assert len(set(joined)) == len(joined)
        assert [(key, kind) for key, kind, due_at in joined if due_at == AT_ONCE] == order


# what a ministry's page may be asked for besides its page: (variant, keyword arguments)
_VARIANTS: list[dict[str, Any]] = [
    *({"limit": limit, "offset": offset} for limit, offset in ((None, 0), (2, 0), (2, 3), (3, 6))),
    {"key": "RK-03-02"},
    {"rungs": True},
    {"rungs": True, "limit": 2, "offset": 2},
    {"at": MIDWAY, "overdue": True},
    {"at": MIDWAY, "due_until": LATER, "limit": 2},
    {"at": MIDWAY, "overdue": True, "due_until": LATER, "limit": 3, "offset": 2},
    {"themenforum": 3, "limit": 3, "offset": 1},
    {"themenforum": 4},
]


def _rows(store: Store, lead: str, given: dict[str, Any]) -> list[Sequence[Any]]:
    args = {"rungs": False, **given}
    at = args.pop("at", LATER)
    with store.read() as conn:
        return list(worklist.open_deadlines(conn, at, lead=lead, **args))


@pytest.mark.parametrize("sort", [True, False])
def test_a_ministrys_page_from_its_proposals_is_the_walked_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, sort: bool
) -> None:
    # given deadlines of two ministries, some due at the same moment
    _tied(engine)
    with engine.store.read() as conn:
        dialect = conn.dialect.name
    expected = {
        (lead, n): _rows(engine.store, lead, given)
        for lead in ("IM", "vm") for n, given in enumerate(_VARIANTS)
    }  # fmt: skip
    # (every variant finds something for IM, but the other forum's)
    assert all(
        expected["IM", n] for n, given in enumerate(_VARIANTS) if given != {"themenforum": 4}
    )
    assert expected["vm", 0] and not expected["IM", len(_VARIANTS) - 1]
    # when SQLite reads a ministry's page from its proposals (sorted), or walks every open
    # deadline in due order, whatever the ministry's size
    monkeypatch.setattr(worklist, "_from_proposals", lambda conn, values: sort)
    for (lead, n), rows in expected.items():
        # then the rows are the same, with every filter, the rungs and one proposal's too
        assert _rows(engine.store, lead, _VARIANTS[n]) == rows, (lead, _VARIANTS[n])
    if dialect == "sqlite":
        with engine.store.read() as conn:
            plan = _plan(conn, sort=sort)
        assert ("ix_proposals_upper_lead_lead" in plan) is sort, plan


def _plan(conn: Any, *, sort: bool) -> str:
    """SQLite's plan for a page of IM's worklist, read from its proposals or walked."""
    shape = (True, False, False, True, False, False, False, False, True, False)
    compiled = worklist._statement(shape, sort=sort).compile(dialect=conn.dialect)
    params = compiled.construct_params({"lead": "IM", "limit": 2})
    values = tuple(params[name] for name in compiled.positiontup)
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
    return "\n".join(row[-1] for row in rows)


def test_sqlite_reads_a_small_ministrys_page_and_a_proposals_from_the_proposals(
    engine: Engine,
) -> None:
    # given twenty proposals, one of them VM's, the others IM's
    for i in range(20):
        add_proposal(engine, NOW, key=f"RK-03-{i + 1:02d}", lead="VM" if i == 7 else "IM")
    with engine.store.read() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("PostgreSQL's planner knows a ministry's share (migration 0016)")
        # when a page of the worklist is asked for, or the whole list
        # then the small ministry's is read from its proposals, the large one's walked in due
        # order: walking passes about n / p deadlines per row of the page
        for limit, offset in ((5, 0), (5, 10), (None, 0)):
            values = {"lead": "VM", "key": None, "limit": limit, "offset": offset or None}
            assert worklist._from_proposals(conn, values) is True
            assert worklist._from_proposals(conn, {**values, "lead": "IM"}) is False
            # and one proposal's deadlines (its page) always from it
            assert worklist._from_proposals(conn, {**values, "lead": "IM", "key": "RK-03-02"})
        # and a plan walking the index in due order sorts nothing
        plan = _plan(conn, sort=False)
        assert "ix_deadlines_status_due_at_proposal_key_id" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
