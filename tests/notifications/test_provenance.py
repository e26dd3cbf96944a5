"""The delivery worker sends only notices the engine wrote (#24.4), on SQLite and PostgreSQL.

Given notices the engine really wrote (transitions, a consultation, a moved deadline, rungs
the sweep fired, a weekly digest), the check passes each. Rows written past the engine — by
the owner, a misused service login, a restored dump — are refused with a reason, marked
failed by the worker, and never reach the transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import NOW
from sqlalchemy import delete, insert, select, update
from support import Cli, add_proposal, delivery_of

from notifications import MemoryTransport
from workflow.app.runtime import Runtime
from workflow.notices.delivery import deliver
from workflow.notices.outbox import FAILED, PENDING
from workflow.notices.provenance import Provenance
from workflow.store.schema import outbox, proposals

EVIL = {"name": "Koordinierungsstelle", "address": "zugang@evil.example"}


@pytest.fixture
def engine_wrote(runtime: Runtime, database_url: str) -> Iterator[str]:
    """Notices of every kind the engine writes, through ruhrflow; yields the proposal's key."""
    cli = Cli(database_url)
    key = add_proposal(runtime.engine, NOW)
    cli("advance", key, "submit", actor="forum-03")
    cli("advance", key, "open_consultation")
    cli("deadlines", "move", key, "consultation", "--to", "2019-09-20", "--reason", "Ferien")
    cli("scheduler", "tick", now="2019-09-16T09:00", actor=None)  # a Monday: the digest too
    yield key


def outbox_rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.read() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def refusals(runtime: Runtime) -> dict[str, str | None]:
    check = Provenance(runtime.directory)
    with runtime.store.read() as conn:
        return {r["idempotency_key"]: check.refusal(conn, r) for r in outbox_rows(runtime)}


def test_every_notice_the_engine_wrote_passes(runtime: Runtime, engine_wrote: str) -> None:
    found = refusals(runtime)
    kinds = {r["kind"] for r in outbox_rows(runtime)}
    assert {"status_change", "consultation_opened", "deadline_moved", "reminder"} <= kinds, kinds
    assert any(k.startswith("digest:") for k in found), found
    assert {k: v for k, v in found.items() if v is not None} == {}


def forge(runtime: Runtime, **values: Any) -> None:
    """Insert a copy of the engine's first notice with ``values`` changed, past the engine."""
    first = outbox_rows(runtime)[0]
    row = {k: v for k, v in first.items() if k != "id"}
    forged = f"<forged-{len(outbox_rows(runtime))}@example.org>"
    row.update(status=PENDING, attempts=0, lease_until=None, sent_at=None, last_error=None,
               next_attempt_at=NOW, subject=None, body_text=None, body_html=None,
               attachments=None, message_id=forged)  # fmt: skip
    row.update(values)
    with runtime.store.write() as conn:
        conn.execute(insert(outbox).values(**row))


def proposal_id(runtime: Runtime, key: str) -> int:
    with runtime.store.read() as conn:
        return int(conn.execute(select(proposals.c.id).where(proposals.c.key == key)).scalar_one())


# (the key, KEY for the proposal's; what differs from a copy of the engine's first notice; the
# reason given)
FORGERIES: list[tuple[str, dict[str, Any], str]] = [
    ("phishing:1", {}, "none the engine makes"),
    ("transition:KEY:x:status_change", {}, "cannot check the key"),
    ("transition:KEY", {}, "cannot check the key"),
    ("transition:KEY:99:status_change", {}, "no history entry KEY:99"),
    ("transition:KEY:1:status_change", {}, "the engine sends no notice for 'create'"),
    ("transition:KEY:3:status_change", {"kind": "reminder"}, "the template 'status_change'"),
    ("transition:RK-99-99:3:status_change", {}, "the key names 'RK-99-99'"),
    ("transition:KEY:3:consultation_opened",
     {"kind": "consultation_opened", "recipients": [EVIL]},
     "zugang@evil.example is not among the recipients"),
    ("deadline-rung:999999", {"kind": "reminder"}, "no deadline rung 999999"),
    ("deadline-moved:999999:2", {"kind": "deadline_moved"}, "no deadline 999999"),
    ("digest:XX:2019-W37", {"proposal_id": None}, "no ministry 'XX'"),
    ("digest:IM:2019-W01", {}, "a digest belongs to no proposal"),
    ("digest:IM:2019-W02", {"proposal_id": None, "recipients": [EVIL]}, "evil.example"),
    ("transition:KEY:3:consultation_opened", {"kind": "consultation_opened",
                                              "recipients": "x@evil.example"},
     "not a list"),
]  # fmt: skip


def test_a_forged_notice_is_refused_with_a_reason(runtime: Runtime, engine_wrote: str) -> None:
    # given rows the engine wrote: the consultation's notice is transition:KEY:3
    assert f"transition:{engine_wrote}:3:consultation_opened" in refusals(runtime)
    check = Provenance(runtime.directory)
    for key, change, reason in FORGERIES:
        key, reason = key.replace("KEY", engine_wrote), reason.replace("KEY", engine_wrote)
        with runtime.store.write() as conn:  # make room for the forged one under a real key
            conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key == key)
                .values(idempotency_key=outbox.c.idempotency_key + ":engine")
            )
        # when a row is written past the engine
        forge(runtime, idempotency_key=key, **change)
        # then the check refuses it, saying why
        with runtime.store.read() as conn:
            row = conn.execute(select(outbox).where(outbox.c.idempotency_key == key)).mappings()
            found = check.refusal(conn, row.one())
        assert found is not None and reason in found, (key, found)
        with runtime.store.write() as conn:  # and the engine's row is back for the next one
            conn.execute(delete(outbox).where(outbox.c.idempotency_key == key))
            conn.execute(
                update(outbox)
                .where(outbox.c.idempotency_key == key + ":engine")
                .values(idempotency_key=key)
            )


def test_the_worker_marks_a_forged_notice_failed_and_never_sends_it(
    runtime: Runtime, engine_wrote: str
) -> None:
    # given one of the engine's notices due again, and two rows of a phisher: another address
    # on the consultation's notice, and a new "status change" with a text of its own
    key = engine_wrote
    with runtime.store.write() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.idempotency_key == f"transition:{key}:2:status_change")
            .values(status=PENDING, sent_at=None, next_attempt_at=NOW)
        )
        conn.execute(
            update(outbox)
            .where(outbox.c.idempotency_key == f"transition:{key}:3:consultation_opened")
            .values(recipients=[EVIL], status=PENDING, sent_at=None, next_attempt_at=NOW)
        )
    forge(
        runtime,
        idempotency_key="transition:RK-00-00:7:status_change",
        proposal_id=proposal_id(runtime, key),
        context={"proposal": {"title": "Bitte Zugangsdaten bestätigen: https://evil.example"}},
    )
    # when the worker delivers (as `notices send` and the scheduler do)
    transport = MemoryTransport()
    deliver(delivery_of(runtime), transport, NOW + timedelta(days=90))
    # then the engine's notice is sent; neither forged row reaches the transport, both are
    # failed, with the reason
    (sent,) = transport.outbox
    assert sent["X-Ruhrflow-Key"] == f"transition:{key}:2:status_change"
    assert "evil" not in sent.as_string()
    rows = {r["idempotency_key"]: r for r in outbox_rows(runtime)}
    for forged in (
        f"transition:{key}:3:consultation_opened",
        "transition:RK-00-00:7:status_change",
    ):
        assert rows[forged]["status"] == FAILED, rows[forged]
        assert "not a notice the engine wrote" in str(rows[forged]["last_error"])
