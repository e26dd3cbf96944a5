"""From, Reply-To, signature and footer come from ``[mail]`` (issue 13, item 3).

Delivered through a real SMTP server (aiosmtpd) and read back as a mail client does
(``email`` with ``policy.default``): what a ministry reads names the configured office, and
the software only where the configuration names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import NOW
from notify_fixtures import StartServer, parse
from support import add_proposal, delivery_of, walk_to

from notifications import SMTPTransport
from workflow.app.runtime import Runtime, open_runtime
from workflow.app.settings import load_settings
from workflow.notices.delivery import deliver

CONFIGURED = """
[mail]
sender = "Staatskanzlei NRW – Geschäftsstelle Ruhr-Konferenz <ruhr@stk.nrw.example>"
reply_to = "Geschäftsstelle Ruhr-Konferenz <geschaeftsstelle@stk.nrw.example>"
signature = "Geschäftsstelle Ruhr-Konferenz\\nStaatskanzlei des Landes Nordrhein-Westfalen"
footer = ""
"""


def _runtime(database_url: str, tmp_path: Path, text: str) -> Iterator[Runtime]:
    config = tmp_path / "sender.toml"
    config.write_text(text, encoding="utf-8")
    rt = open_runtime(load_settings(config, database_url=database_url, env={}))
    yield rt
    rt.close()


@pytest.fixture
def configured(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    yield from _runtime(database_url, tmp_path, CONFIGURED)


@pytest.fixture
def shipped(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    yield from _runtime(database_url, tmp_path, "")


def _delivered(runtime: Runtime, smtp_server: StartServer) -> list[EmailMessage]:
    engine = runtime.engine
    key = add_proposal(engine, NOW, title="Digitalisierung der Verwaltung im Ruhrgebiet")
    now = walk_to(engine, key, "consultation", NOW)
    controller, handler = smtp_server()
    counts = deliver(
        delivery_of(runtime), SMTPTransport("127.0.0.1", controller.port, "none", timeout=5), now
    )
    assert counts.sent == len(handler.received) > 0
    return [parse(received) for received in handler.received]


def _readable(message: EmailMessage) -> str:
    """Everything a reader sees: the shown headers and both bodies."""
    shown = [str(message[name] or "") for name in ("From", "Reply-To", "To", "Subject")]
    for subtype in ("plain", "html"):
        body = message.get_body((subtype,))
        assert isinstance(body, EmailMessage)
        shown.append(body.get_content())
    return "\n".join(shown)


def test_the_configured_sender_reply_to_and_signature_are_what_the_ministry_reads(
    configured: Runtime, smtp_server: StartServer
) -> None:
    # given a configured sender, Reply-To, two-line signature and no footer
    # when notices are delivered
    messages = _delivered(configured, smtp_server)
    for message in messages:
        # then From and Reply-To are exactly the configured ones
        (sender,) = message["From"].addresses
        assert sender.display_name == "Staatskanzlei NRW – Geschäftsstelle Ruhr-Konferenz"
        assert sender.addr_spec == "ruhr@stk.nrw.example"
        (reply_to,) = message["Reply-To"].addresses
        assert reply_to.addr_spec == "geschaeftsstelle@stk.nrw.example"
        assert reply_to.display_name == "Geschäftsstelle Ruhr-Konferenz"
        assert str(message["Message-ID"]).endswith("@stk.nrw.example>")
        # and the letter closes with the signature, in both parts, without a footer
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
        text = plain.get_content().replace("\r\n", "\n")
        assert (
            "Mit freundlichen Grüßen\nGeschäftsstelle Ruhr-Konferenz\n"
            "Staatskanzlei des Landes Nordrhein-Westfalen\n" in text
        )
        assert "automatisch" not in text
        assert (
            "Mit freundlichen Grüßen<br>Geschäftsstelle Ruhr-Konferenz<br>"
            "Staatskanzlei des Landes Nordrhein-Westfalen" in html.get_content()
        )
        # and nothing a reader sees names the software
        assert "ruhrflow" not in _readable(message).lower()


def test_with_the_shipped_configuration_no_reader_sees_the_software(
    shipped: Runtime, smtp_server: StartServer
) -> None:
    # when notices are delivered with the shipped [mail] section
    messages = _delivered(shipped, smtp_server)
    for message in messages:
        # then From is the shipped sender, there is no Reply-To, the footer is the shipped one
        (sender,) = message["From"].addresses
        assert sender.display_name == "Ruhr-Konferenz Koordination"
        assert message["Reply-To"] is None
        assert "für die Koordinierung der Ruhr-Konferenz versandt" in _readable(message)
        assert "ruhrflow" not in _readable(message).lower()
