"""Wiring: from Settings to a ready Engine with its effects. Built once, at the edge.

The one place that reads :class:`~workflow.app.settings.Settings` for the parts below it:
the effects (one list, in order, which the engine, the deadline sweep and a deadline move
all call), the mail renderer (one, shared by delivery and ``notices preview``, so that a
preview is the mail that delivery sends), the transport and the delivery's settings. The
layers below take plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from workflow.access.directory import Directory, load_directory
from workflow.app.settings import Settings
from workflow.deadlines.effect import DeadlineEffect
from workflow.engine.definitions import Machines
from workflow.engine.effects import Effect
from workflow.engine.engine import Engine
from workflow.errors import InvalidConfig
from workflow.notices.events import Notifier
from workflow.notices.outbox import message_domain
from workflow.store.db import Store

if TYPE_CHECKING:
    from notifications.mail.model import Letter
    from notifications.mail.render import Renderer
    from notifications.mail.transport import Transport
    from workflow.notices.delivery import Delivery


@dataclass
class Runtime:
    """Everything a command needs: settings, store, directory and engine, the registry of
    definition machines the engine and the sweeps share, and the one list of effects."""

    settings: Settings
    store: Store
    directory: Directory
    engine: Engine
    machines: Machines = field(default_factory=Machines)
    effects: list[Effect] = field(default_factory=list)

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()

    @property
    def notifier(self) -> Notifier:
        """The effect that writes the outbox (one of :attr:`effects`)."""
        return next(e for e in self.effects if isinstance(e, Notifier))

    @cached_property
    def renderer(self) -> Renderer:
        """The one mail renderer: delivery sends what it renders, ``notices preview`` shows
        it. Built on first use (a transition never renders: Jinja2 stays unloaded)."""
        return mail_renderer(self.settings)

    @cached_property
    def transport(self) -> Transport:
        """The transport ``settings.mail`` names, built on first use."""
        return transport_for(self.settings)

    def delivery(self) -> Delivery:
        """What a delivery pass uses: this store, the engine's ``append_event``, the sender,
        reply-to and attempts of ``settings.mail``, :attr:`renderer`, and the provenance
        check against this directory."""
        from workflow.notices.delivery import Delivery
        from workflow.notices.provenance import Provenance

        mail = self.settings.mail
        return Delivery(
            self.store,
            self.engine.append_event,
            sender=mail.sender,
            reply_to=mail.reply_to,
            max_attempts=mail.max_attempts,
            renderer=self.renderer,
            refusal=Provenance(self.directory),
        )


def transition_effects(settings: Settings, directory: Directory) -> list[Effect]:
    """The effects of every change, in the same transaction, in this order.

    The one place that orders the effects: the deadline effect first, since it leaves on the
    :class:`~workflow.engine.changes.Batch` the deadlines it opened, which the notices of a
    status change name; the notifier reads them there (and queries what is not there).
    """
    return [
        DeadlineEffect(settings.section("process")),
        Notifier(directory, domain=message_domain(settings.mail.sender)),
    ]


def letter_of(settings: Settings) -> Letter:
    """The signature and footer of ``settings.mail`` (what every notice closes with)."""
    from notifications.mail.model import Letter

    return Letter(signature=settings.mail.signature, footer=settings.mail.footer)


def mail_renderer(settings: Settings) -> Renderer:
    """The templates a notice is rendered with, as delivered: overrides, the web links
    (``[web] base_url``), the letter (:attr:`Runtime.renderer` is this one)."""
    from workflow.notices.rendering import renderer_for

    web_url = str(settings.section("web").get("base_url") or "") or None
    return renderer_for(settings.mail.templates, web_url, letter_of(settings))


def transport_for(settings: Settings) -> Transport:
    """The transport ``settings.mail`` names: maildir (relative to the cwd), smtp or memory."""
    from notifications.mail.transport import MaildirTransport, MemoryTransport, SMTPTransport

    mail = settings.mail
    if mail.transport == "maildir":
        return MaildirTransport(Path.cwd() / mail.maildir)
    if mail.transport == "memory":  # in-process only: for tests
        return MemoryTransport()
    smtp = mail.smtp
    username = smtp.username or None
    if username is not None and smtp.password is None:
        raise InvalidConfig(
            f"mail.smtp.username is {username!r} but RUHRFLOW_SMTP_PASSWORD is not set"
        )
    return SMTPTransport(
        smtp.host,
        smtp.port,
        security=smtp.security,  # type: ignore[arg-type]  # checked by load_settings
        username=username,
        password=smtp.password if username is not None else None,
        timeout=smtp.timeout_seconds,
    )


def open_runtime(settings: Settings) -> Runtime:
    """Open the store and build the engine, with the one list of effects, for ``settings``."""
    store = Store.open(settings.database_url, busy_timeout_seconds=settings.busy_timeout_seconds)
    directory = load_directory(settings.directory_path)
    machines = Machines()
    effects = transition_effects(settings, directory)
    engine = Engine(
        store,
        directory,
        audit_key=settings.audit_key,
        effects=effects,
        machines=machines,
    )
    return Runtime(settings, store, directory, engine, machines, effects)
