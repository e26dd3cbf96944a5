"""Mails link to the proposal's page when ``[web] base_url`` is set — and only then."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from support import delivery_of

from notifications.delivery import deliver
from notifications.mail.transport import MemoryTransport
from workflow import Intake, ProposalInput, Runtime, create_proposals

NOW = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)


def _mails(runtime: Runtime) -> list[str]:
    create_proposals(
        Intake.of(runtime.engine),
        [ProposalInput(key="RK-03-01", title="Radschnellweg Ruhr", handlungsfeld=4,
                       themenforum=3, lead="VM", cost_estimate=Decimal(1000))],
        actor="koordination",
        now=NOW,
    )  # fmt: skip
    runtime.engine.advance("RK-03-01", "submit", actor="koordination", now=NOW)
    transport = MemoryTransport()
    deliver(delivery_of(runtime), transport, NOW)
    assert transport.outbox
    bodies = []
    for message in transport.outbox:
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                bodies.append(part.get_content())
    return bodies


def test_mails_link_to_the_proposal_page_when_base_url_is_set(runtime: Runtime) -> None:
    raw = {**runtime.settings.raw, "web": {"base_url": "https://ruhrflow.nrw.example/"}}
    linked = replace(runtime, settings=replace(runtime.settings, raw=raw))
    bodies = _mails(linked)
    assert all("https://ruhrflow.nrw.example/proposals/RK-03-01" in b for b in bodies)


def test_mails_have_no_link_without_base_url(runtime: Runtime) -> None:
    assert not any("/proposals/RK-03-01" in b for b in _mails(runtime))
