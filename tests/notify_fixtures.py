"""Fixtures for the notification tests: a real SMTP server (aiosmtpd) and a TLS certificate.

Loaded as a plugin by tests/conftest.py (one conftest only: test modules import from it)."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass
class Received:
    """One message as the SMTP server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes


def parse(received: Received) -> EmailMessage:
    """The message the server received, parsed as mail clients read it (policy.default)."""
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class CollectingHandler:
    """aiosmtpd handler that keeps what it accepts and can answer with a chosen reply."""

    data_reply: str = "250 2.0.0 OK"
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # aiosmtpd hook name
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd hook name
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        if self.data_reply.startswith("250"):
            assert isinstance(envelope.content, bytes)
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), envelope.content)
            )
        return self.data_reply


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (at the moment of the call)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


StartServer = Callable[..., tuple[Controller, CollectingHandler]]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers on free ports: ``start(handler=None, **controller_kwargs)``."""
    controllers: list[Controller] = []

    def start(
        handler: CollectingHandler | None = None, **kwargs: Any
    ) -> tuple[Controller, CollectingHandler]:
        handler = handler if handler is not None else CollectingHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return controller, handler

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert=cert, key=key)
