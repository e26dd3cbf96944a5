"""What every command gets: settings, runtime, actor and now — built lazily, once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import click

from workflow.process.vocabulary import BERLIN

if TYPE_CHECKING:
    from workflow.access.logins import LoginRights
    from workflow.app.runtime import Runtime
    from workflow.app.settings import Settings
    from workflow.cli.backend import Backend

# The days a given time may fall on: far enough for any simulation, and far enough from
# year 1 and 9999 that a time zone shift or a deadline a century ahead cannot overflow.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


def parse_now(text: str) -> datetime:
    """An ISO date or datetime; naive values are Europe/Berlin. Returns aware UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or datetime (2019-11-05T10:00)") from None
    if not EARLIEST <= value.date() <= LATEST:
        raise ValueError(f"{text!r} lies outside {EARLIEST} to {LATEST}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(UTC)


def parse_day(text: str) -> date:
    """An ISO date (YYYY-MM-DD)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date YYYY-MM-DD") from None
    if not EARLIEST <= day <= LATEST:
        raise click.BadParameter(f"{text!r} lies outside {EARLIEST} to {LATEST}")
    return day


@dataclass
class CliContext:
    """The global options, and the runtime opened from them on first use."""

    db_url: str | None
    config_path: str | None
    actor_id: str | None
    fixed_now: datetime | None
    server: str | None = None  # ``--server``: commands run over the service's API
    # every command refuses a database whose schema is not this ruhrflow's; ``init`` (which
    # upgrades it) and ``db status`` (which reports it) switch this off before they open it
    schema_check: bool = True
    _settings: Settings | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)
    _actor: str | None = field(default=None, repr=False)
    _rights: tuple[LoginRights | None] | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """``--now`` or the wall clock (the only place ruhrflow reads it)."""
        return self.fixed_now or datetime.now(UTC)

    @property
    def backend(self) -> Backend:
        """Where the data comes from: the service (``--server``) or the database."""
        if self.server is not None:
            from workflow.cli.remote import Client, RemoteBackend, read_token

            return RemoteBackend(Client(self.server, read_token(self.server)))
        from workflow.cli.backend import LocalBackend

        return LocalBackend(self)

    def _local_only(self) -> None:
        """A command that has not learnt ``--server`` yet says so (exit 2) instead of
        silently opening a database next to the service."""
        if self.server is not None:
            from workflow.errors import InvalidInput

            current = click.get_current_context(silent=True)
            words = current.command_path.split()[1:] if current is not None else []
            name = " ".join(["ruhrflow", *words])
            raise InvalidInput(
                f"`{name}` is not available with --server yet: run it on the database"
                " (without --server and RUHRFLOW_SERVER)"
            )

    @property
    def settings(self) -> Settings:
        """The settings, loaded once."""
        self._local_only()
        if self._settings is None:
            from workflow.app.settings import load_settings

            self._settings = load_settings(self.config_path, database_url=self.db_url)
        return self._settings

    @property
    def runtime(self) -> Runtime:
        """The opened store and engine."""
        self._local_only()
        if self._runtime is None:
            from workflow.cli.startup import loading, one_shot

            current = click.get_current_context(silent=True)
            # the parsed definitions from the cache: only in a one-shot command (startup.py)
            one_shot(current.command_path.split()[1:] if current is not None else ())
            with loading():  # what opens here lives as long as the process
                from workflow.app.runtime import open_runtime

                runtime = open_runtime(self.settings)
                if self.schema_check:
                    try:
                        runtime.store.require_current_schema()
                    except BaseException:
                        runtime.close()
                        raise
            self._runtime = runtime
        return self._runtime

    def require_actor(self) -> str:
        """The acting identity for a command that changes data (validated).

        On PostgreSQL ``--now`` is refused here unless the database lets the login set
        the clock (see :mod:`workflow.access.logins`).
        """
        from workflow.access.identity import check_writes

        actor = self._acting(required=True)
        assert actor is not None
        check_writes(self.rights)
        self.require_clock()
        return actor

    def require_clock(self) -> None:
        """Refuse ``--now`` on a command that writes, for a login without the clock right."""
        from workflow.access.identity import check_clock

        if self.fixed_now is not None:
            check_clock(self.rights, self.fixed_now)

    def require_system(self, action: str) -> None:
        """For the scheduler's system actions: the login must be named for them (and may
        set the clock if ``--now`` is given). Nothing to check on SQLite."""
        from workflow.access.identity import check_system

        check_system(self.rights, action)
        self.require_clock()

    @property
    def rights(self) -> LoginRights | None:
        """What the database says about the login (PostgreSQL), None on SQLite; read once."""
        if self._rights is None:
            from workflow.access.logins import login_rights

            self._rights = (login_rights(self.runtime.store),)
        return self._rights[0]

    def resolve_actor(self) -> str | None:
        """The acting identity if there is one (validated against the directory).

        On PostgreSQL it is the authenticated database user, mapped to a directory actor by
        the table ``logins``; ``--as`` is refused there unless the database grants the
        login impersonation. On SQLite it is ``--as`` (see :mod:`workflow.access.identity`).
        """
        return self._acting(required=False)

    def _acting(self, *, required: bool) -> str | None:
        from workflow.access.identity import acting_actor
        from workflow.errors import IdentityRequired

        actor = self._actor
        if actor is None:
            rt = self.runtime
            actor = self._actor = acting_actor(
                rt.directory,
                self.actor_id,
                rights=self.rights,
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
