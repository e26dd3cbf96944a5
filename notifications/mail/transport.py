"""Deliver built messages: a small base with the shared checks, and one class per backend.

``MemoryTransport`` is the in-memory twin for tests, ``MaildirTransport`` the embedded default
(a directory any mail client or ``mutt -f`` can read), ``SMTPTransport`` the real thing.
"""

from __future__ import annotations

import mailbox
import smtplib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import Policy
from pathlib import Path
from typing import Literal, get_args

from notifications.mail.replies import credential_forms, redact, sanitised, server_reply
from notifications.mail.wire import message_bytes

Security = Literal["none", "starttls", "ssl"]


class TransportError(Exception):
    """Delivery failed. ``temporary`` says whether sending the same message again may succeed.

    ``unreachable`` says that the transport could not be reached at all (connection refused or
    lost, timeout, a Maildir that cannot be written): the remaining notices of a pass would fail
    the same way. A server that answers, even with a temporary 4xx (greylisting), is reachable.

    The CLI reports one that reaches it as one line on stderr with ``exit_code`` (4), as it
    does a ``workflow.errors.WorkflowError``, not as an internal error (this library knows
    nothing of the workflow, so it is no subclass of that root).
    """

    exit_code = 4

    def __init__(self, message: str, *, temporary: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.unreachable = unreachable and temporary


@dataclass(frozen=True)
class Envelope:
    """The envelope of a built message, and the exact From and To header values it came from.

    :func:`notifications.mail.mime.build_message` computes the addresses and writes the headers
    from the same values, so the transport can take the envelope from here instead of parsing
    the headers again, as long as the headers are still exactly these (see
    :meth:`Transport.send`).
    """

    sender: str
    recipients: tuple[str, ...]
    from_header: str
    to_header: str


class NoticeMessage(EmailMessage):
    """An :class:`~email.message.EmailMessage` that knows the :class:`Envelope` it was built for."""

    envelope: Envelope | None = None


_REFUSED = {"cc": "Cc", "bcc": "Bcc"}


def _addresses(message: EmailMessage, name: str) -> list[str]:
    header = message[name]
    if header is None:
        return []
    addresses = getattr(header, "addresses", None)
    if addresses is None:
        # compat32 messages give plain strings; parsing them again is where injection hides.
        raise TransportError(
            f"{name} header is not structured; build messages with email.policy.default/SMTP",
            temporary=False,
        )
    return [address.addr_spec for address in addresses if address.addr_spec]


class Transport(ABC):
    """Sends an :class:`~email.message.EmailMessage`; backends implement :meth:`_deliver`.

    The envelope is taken from the message: the sender is the From address, the recipients are
    exactly the To addresses. Messages with Cc or Bcc are refused rather than half delivered.
    """

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`TransportError`."""
        from_values: list[str] = []
        to_values: list[str] = []
        for name, value in message.raw_items():  # the stored values: nothing parsed here
            lowered = name.lower()
            if lowered in _REFUSED:
                raise TransportError(
                    f"refusing a message with a {_REFUSED[lowered]} header: notices go to To only",
                    temporary=False,
                )
            if lowered == "from":
                from_values.append(value)
            elif lowered == "to":
                to_values.append(value)
        envelope = getattr(message, "envelope", None)
        if (
            isinstance(envelope, Envelope)
            and from_values == [envelope.from_header]
            and to_values == [envelope.to_header]
        ):
            # Built by build_message and its From/To untouched since: the addresses those
            # very header values were written from (tests check that they parse back to them).
            senders, recipients = [envelope.sender], list(envelope.recipients)
        else:
            senders, recipients = _addresses(message, "From"), _addresses(message, "To")
        if len(senders) != 1:
            raise TransportError("a message needs exactly one From address", temporary=False)
        if not recipients:
            raise TransportError("refusing a message without recipients", temporary=False)
        self._deliver(message, senders[0], tuple(recipients))

    @abstractmethod
    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        """Hand the checked message to the backend; raise :class:`TransportError` on failure."""


class MemoryTransport(Transport):
    """Keeps sent messages in :attr:`outbox`; can be told to fail, for tests."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []
        self._failures_left = 0
        self._failures_temporary = True
        self._failures_unreachable = True

    def fail_next(
        self, count: int, *, temporary: bool = True, unreachable: bool | None = None
    ) -> None:
        """Make the next ``count`` sends raise :class:`TransportError` (temporary by default).

        A temporary failure is an unreachable transport unless ``unreachable=False`` (then it
        is a server's temporary refusal, such as greylisting).
        """
        if count < 0:
            raise ValueError("count must not be negative")
        self._failures_left = count
        self._failures_temporary = temporary
        self._failures_unreachable = temporary if unreachable is None else unreachable

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise TransportError(
                "simulated delivery failure",
                temporary=self._failures_temporary,
                unreachable=self._failures_unreachable,
            )
        self.outbox.append(message)


class MaildirTransport(Transport):
    """Writes each message as one file into a Maildir (created if missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._maildir = mailbox.Maildir(self.path, factory=None, create=True)
        self._policies: tuple[Policy, Policy] | None = None  # (a message's, its LF twin)

    def _lf_policy(self, policy: Policy) -> Policy:
        # Maildir files use the local line ending, not the CRLF of the SMTP policy. Cloned
        # once per policy (messages of one run share it), not once per message.
        if self._policies is None or self._policies[0] is not policy:
            self._policies = (policy, policy.clone(linesep="\n"))
        return self._policies[1]

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        data = message_bytes(message, self._lf_policy(message.policy))
        try:
            self._maildir.add(data)
        except OSError as exc:
            raise TransportError(
                f"cannot write to Maildir {self.path}: {exc}", temporary=True, unreachable=True
            ) from exc


class SMTPTransport(Transport):
    """Sends through an SMTP server with smtplib, one connection per message.

    ``security`` is ``"starttls"`` (port 587), ``"ssl"`` (implicit TLS, port 465) or ``"none"``
    (only for a relay on the same host or network). Certificates are verified with
    ``ssl_context`` or, by default, the system's trust store. Connection failures, timeouts, TLS
    failures and 4xx replies are temporary; 5xx replies and client-side protocol problems (e.g.
    the server offers no STARTTLS or AUTH) are permanent. Error messages never contain the
    password.
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in get_args(Security):
            raise ValueError(f"security must be one of {get_args(Security)}, not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password=***" if self.username is not None else ""
        return f"SMTPTransport({self.host!r}, {self.port}, security={self.security!r}{auth})"

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            client.starttls(context=self._context())
        return client

    def _deliver(self, message: EmailMessage, sender: str, recipients: tuple[str, ...]) -> None:
        client: smtplib.SMTP | None = None
        logging_in = False
        try:
            client = self._connect()
            if self.username is not None and self._password is not None:
                if not (self.username.isascii() and self._password.isascii()):
                    # smtplib sends AUTH as ASCII; say so without a word of the credentials.
                    raise self._error(
                        "the SMTP user name or password has non-ASCII characters, which"
                        " smtplib cannot send; use ASCII credentials",
                        temporary=False,
                    )
                logging_in = True
                client.login(self.username, self._password)
                logging_in = False
            refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients, accepted=False) from None
        except smtplib.SMTPResponseException as exc:
            reply = server_reply(
                exc.smtp_code, exc.smtp_error, answers_credentials=logging_in, secrets=self._forms()
            )
            raise self._error(
                f"server replied {reply}", temporary=not 500 <= exc.smtp_code < 600
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise self._error(f"connection lost: {exc}", temporary=True, unreachable=True) from None
        except smtplib.SMTPException as exc:
            raise self._error(f"{type(exc).__name__}: {exc}", temporary=False) from None
        except OSError as exc:  # refused, unreachable, timeout, TLS handshake or verification
            raise self._error(
                f"{type(exc).__name__}: {exc}", temporary=True, unreachable=True
            ) from None
        finally:
            if client is not None:
                _close_quietly(client)
        if refused:
            # Some recipients have the message already; a retry would send it to them twice.
            raise self._refused(refused, accepted=True)

    def _refused(self, refused: dict[str, tuple[int, bytes]], *, accepted: bool) -> TransportError:
        parts = ", ".join(
            f"{sanitised(address)}: {server_reply(code, reply, answers_credentials=False)}"
            for address, (code, reply) in sorted(refused.items())
        )
        if accepted:
            return self._error(f"delivered to some recipients, refused by {parts}", temporary=False)
        temporary = all(400 <= code < 500 for code, _ in refused.values())
        return self._error(f"all recipients refused: {parts}", temporary=temporary)

    def _error(self, detail: str, *, temporary: bool, unreachable: bool = False) -> TransportError:
        text = " ".join(f"SMTP {self.host}:{self.port}: {detail}".split())  # one line
        return TransportError(self._redact(text), temporary=temporary, unreachable=unreachable)

    def _forms(self) -> tuple[str, ...]:
        return credential_forms(self.username, self._password)

    def _redact(self, text: str) -> str:
        """Remove the password in every form a server may echo it in (replies.py)."""
        return redact(text, self._forms())


def _close_quietly(client: smtplib.SMTP) -> None:
    # The message is already accepted (or the failure already reported): a failing QUIT must
    # not turn success into an error and cause a duplicate on retry.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
