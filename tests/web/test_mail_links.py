"""Mails link to the proposal's page when ``[web] base_url`` is set — and only then."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from support import delivery_of

from notifications.mail.transport import MemoryTransport
from workflow import ProposalInput, Runtime
from workflow.notices.delivery import deliver

NOW = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)


def _mails(runtime: Runtime) -> list[str]:
    runtime.engine.create_proposals(
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


def test_a_preview_is_the_mail_that_delivery_sends_link_included(runtime: Runtime) -> None:
    # Given the web's address configured, and a proposal about to be submitted
    from workflow.notices.preview import render_preview

    raw = {**runtime.settings.raw, "web": {"base_url": "https://ruhrflow.nrw.example/"}}
    linked = replace(runtime, settings=replace(runtime.settings, raw=raw))
    linked.engine.create_proposals(
        [ProposalInput(key="RK-03-01", title="Radschnellweg Ruhr", handlungsfeld=4,
                       themenforum=3, lead="VM", cost_estimate=Decimal(1000))],
        actor="koordination",
        now=NOW,
    )  # fmt: skip
    # when the coordinator previews the notice of `submit`, then submits and it is delivered
    preview = render_preview(
        linked.store,
        linked.machines,
        linked.notifier,
        linked.renderer,  # the one renderer of the runtime, which delivery uses too
        "RK-03-01",
        "submit",
        NOW,
        process_setting=linked.settings.section("process"),
        actor="koordination",
    )
    linked.engine.advance("RK-03-01", "submit", actor="koordination", now=NOW)
    transport = MemoryTransport()
    deliver(delivery_of(linked), transport, NOW)
    (mail,) = [m for m in transport.outbox if "status_change" in m["X-Ruhrflow-Key"]]
    parts = {p.get_content_type(): p.get_content() for p in mail.walk() if not p.is_multipart()}
    # then subject, text and HTML are the same, the link to the proposal's page included
    assert preview["subject"] == str(mail["Subject"])
    assert preview["text"].strip() == parts["text/plain"].strip()
    assert preview["html"].strip() == parts["text/html"].strip()
    assert "https://ruhrflow.nrw.example/proposals/RK-03-01" in preview["text"]
