"""The audit log newest first, a page at a time, by kind (#27.7: the audit page's paging)."""

from __future__ import annotations

from conftest import NOW
from support import add_proposal, walk_to

from workflow.audit.log import audit_log
from workflow.engine.engine import Engine


def _log(engine: Engine, **options: object) -> list[tuple[str, int]]:
    with engine.store.read() as conn:
        return [(e["key"], e["seq"]) for e in audit_log(conn, **options)]  # type: ignore[arg-type]


def test_newest_first_is_the_log_reversed_and_pages_cut_it(engine: Engine) -> None:
    # Given two proposals with a few entries each
    for key in ("RK-03-01", "RK-03-02"):
        walk_to(engine, add_proposal(engine, NOW, key=key), "consultation", NOW)
    oldest_first = _log(engine)
    assert len(oldest_first) >= 6
    # then newest first is the same entries the other way round
    newest_first = _log(engine, newest_first=True)
    assert newest_first == oldest_first[::-1]
    # and pages of 4 cut it without gap or overlap
    pages = [_log(engine, newest_first=True, offset=o, limit=4) for o in range(0, 12, 4)]
    assert [e for page in pages for e in page] == newest_first
    # one chain newest first, too
    chain = _log(engine, key="RK-03-01", newest_first=True)
    assert [seq for _, seq in chain] == sorted((seq for _, seq in chain), reverse=True)


def test_the_kind_filter(engine: Engine) -> None:
    key = add_proposal(engine, NOW, key="RK-03-01")
    walk_to(engine, key, "proposed", NOW)
    with engine.store.read() as conn:
        kinds = {e["kind"] for e in audit_log(conn, kind="created")}
        created = [e["trigger"] for e in audit_log(conn, key=key, kind="created")]
        transitions = [e["trigger"] for e in audit_log(conn, key=key, kind="transition")]
    assert kinds == {"created"}
    assert len(created) == 1 and transitions == ["submit"]
