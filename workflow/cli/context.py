"""What every command gets: settings, runtime, actor and now — built lazily, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import click

from workflow.process.vocabulary import BERLIN

if TYPE_CHECKING:
    from workflow.app.runtime import Runtime
    from workflow.app.settings import Settings


def parse_now(text: str) -> datetime:
    """An ISO date or datetime; naive values are Europe/Berlin. Returns aware UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or datetime (2019-11-05T10:00)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(UTC)


def parse_day(text: str) -> date:
    """An ISO date (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from None


@dataclass
class CliContext:
    """The global options, and the runtime opened from them on first use."""

    db_url: str | None
    config_path: str | None
    actor_id: str | None
    fixed_now: datetime | None
    _settings: Settings | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)
    _actor: str | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """``--now`` or the wall clock (the only place ruhrflow reads it)."""
        return self.fixed_now or datetime.now(UTC)

    @property
    def settings(self) -> Settings:
        """The settings, loaded once."""
        if self._settings is None:
            from workflow.app.settings import load_settings

            self._settings = load_settings(self.config_path, database_url=self.db_url)
        return self._settings

    @property
    def runtime(self) -> Runtime:
        """The opened store and engine."""
        if self._runtime is None:
            from workflow.app.runtime import open_runtime

            self._runtime = open_runtime(self.settings)
        return self._runtime

    def require_actor(self) -> str:
        """The acting identity for a command that changes data (validated)."""
        actor = self._acting(required=True)
        assert actor is not None
        return actor

    def resolve_actor(self) -> str | None:
        """The acting identity if there is one (validated against the directory).

        On PostgreSQL it is the authenticated database user, mapped to a directory actor;
        ``--as`` is refused there unless ``[security] allow_impersonation`` is set. On
        SQLite it is ``--as`` (see :mod:`workflow.access.identity`).
        """
        return self._acting(required=False)

    def _acting(self, *, required: bool) -> str | None:
        from workflow.access.identity import acting_actor
        from workflow.errors import IdentityRequired

        actor = self._actor
        if actor is None:
            rt = self.runtime
            actor = self._actor = acting_actor(
                rt.store,
                rt.directory,
                self.actor_id,
                allow_impersonation=self.settings.allow_impersonation,
                required=required,
            )
        if actor is None and required:
            raise IdentityRequired()
        return actor

    def close(self) -> None:
        """Release the runtime."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def obj(ctx: click.Context) -> CliContext:
    """The CliContext of the root command."""
    root: Any = ctx.find_root().obj
    assert isinstance(root, CliContext)
    return root
