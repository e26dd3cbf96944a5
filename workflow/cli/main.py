"""The ``ruhrflow`` command: global options, lazy subcommands, one-line errors.

Subcommand modules are imported only when their command runs, and they import the
engine (SQLAlchemy, APScheduler) only inside their functions, so ``ruhrflow --help``
stays fast and light.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from workflow.version import __version__

# ``ruhrflow --help`` imports no more than it shows: logging, the context (and with it
# zoneinfo) and the errors are imported when a command runs (bench: cold CLI, issue 29).

# name -> (module:attribute, one-line help). Help lives here so --help imports no module.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("workflow.cli.demo:demo", "Play the 2019 round end to end (start here)."),
    "init": ("workflow.cli.setup:init", "Create or upgrade the database; register the definition."),
    "proposal": ("workflow.cli.proposals:proposal", "Add, import, list and show proposals."),
    "consult": ("workflow.cli.records:consult", "Record consultation statements."),
    "funding": ("workflow.cli.records:funding", "Record funding of a proposal."),
    "advance": ("workflow.cli.advance:advance", "Fire a trigger on one or many proposals."),
    "triggers": (
        "workflow.cli.advance:triggers",
        "What can happen next to a proposal, and why not.",
    ),
    "history": ("workflow.cli.advance:history", "The history of a proposal."),
    "definition": ("workflow.cli.definitions:definition", "Check and draw process definitions."),
    "migrate": (
        "workflow.cli.migrate:migrate",
        "Move running proposals to another definition version: plan, then apply.",
    ),
    "scheduler": ("workflow.cli.schedule:scheduler", "Sweep due reminders and escalations."),
    "deadlines": ("workflow.cli.schedule:deadlines", "Open deadlines: overdue, due soon."),
    "notices": ("workflow.cli.notices:notices", "Email notices: list, send, retry, preview."),
    "simulate": (
        "workflow.cli.schedule:simulate",
        "What would fire until a date, per day (writes nothing).",
    ),
    "audit": ("workflow.cli.audit:audit", "Verify, checkpoint, read and export the history."),
    "report": (
        "workflow.cli.report:report",
        "Progress reports: status, lead times, overdue, stuck.",
    ),
    "publish": (
        "workflow.cli.publish:publish",
        "Write the public board: a static site with open data.",
    ),
    "document": (
        "workflow.cli.documents:document",
        "Documents: attach files to proposals, list them, get them back.",
    ),
    "db": ("workflow.cli.db:db", "Database roles: print or apply the PostgreSQL grants."),
    "config": ("workflow.cli.config:config", "Check the configuration file."),
    "data": ("workflow.cli.data:data", "Where the shipped proposals, definition and config are."),
    "serve": ("workflow.cli.web:serve", "Run the web application (gunicorn)."),
    "user": ("workflow.cli.web:user", "Web accounts: set-password, disable, list."),
    "token": ("workflow.cli.web:token", "API tokens: create, revoke."),
    "login": ("workflow.cli.login:login", "Get a token for --server: account and password."),
}

EXIT_INTERNAL = 70
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and with it bz2,
    lzma and fnmatch) for the help text alone."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Context(click.Context):
    """Click's context, whose help formatter measures the terminal as click does."""

    def make_formatter(self) -> click.HelpFormatter:
        width = self.terminal_width
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(_terminal_columns(), self.max_content_width or 80) - 2, 50)
        return self.formatter_class(width=width, max_width=self.max_content_width)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, with one-line errors."""

    context_class = _Context

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Like click's, but every usage error is one ``error:`` line (exit 2)."""
        if not kwargs.get("standalone_mode", True):
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        given = args[0] if args else kwargs.get("args")
        problem = not_utf8(sys.argv[1:] if given is None else list(given))
        if problem is not None:
            click.echo(f"error: {problem}; nothing was done", err=True)
            sys.exit(2)
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "ruhrflow"
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted; the current transaction was rolled back", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (``ruhrflow history KEY | head``): stop quietly, and keep
            # Python from complaining again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            from workflow.errors import WorkflowError

            if isinstance(exc, WorkflowError):  # refused, bad input, unavailable: one line
                click.echo(f"error: {_without_secrets(str(exc), ctx.obj)}", err=True)
                ctx.exit(exc.exit_code)
            # A mail transport's error is an operational one (exit 4), like a WorkflowError;
            # imported here so that `ruhrflow --help` does not load the mail library.
            from notifications.mail.transport import TransportError

            if isinstance(exc, TransportError):
                click.echo(f"error: {_without_secrets(str(exc), ctx.obj)}", err=True)
                ctx.exit(exc.exit_code)
            if os.environ.get("RUHRFLOW_DEBUG"):
                raise
            report_internal_error(ctx, exc)
        finally:
            obj = ctx.obj
            if obj is not None:
                from workflow.cli.context import CliContext

                if isinstance(obj, CliContext):
                    obj.close()


ENVIRONMENT = ("RUHRFLOW_ACTOR", "RUHRFLOW_DATABASE_URL", "RUHRFLOW_CONFIG", "RUHRFLOW_SERVER")


def not_utf8(argv: list[str]) -> str | None:
    """What in the arguments (or ruhrflow's variables) is not valid UTF-8, or None.

    Python hands bytes that are no UTF-8 over as lone surrogates; the database driver
    cannot encode them, so they are refused here, once, for every option and argument.
    """
    for number, arg in enumerate(argv, start=1):
        if isinstance(arg, str) and not _encodable(arg):
            return f"argument {number} is not valid UTF-8 text ({os.fsencode(arg)!r})"
    for name in ENVIRONMENT:
        value = os.environ.get(name)
        if value is not None and not _encodable(value):
            return f"{name} is not valid UTF-8 text"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def report_internal_error(ctx: click.Context, exc: Exception) -> None:
    """Exit 70 with one line: an exception no input should reach — a bug in ruhrflow.

    The test suite fails every test that gets here (tests/conftest.py), so that no input the
    tests produce reaches it unnoticed.
    """
    text = _without_secrets(f"{type(exc).__name__}: {exc}", ctx.obj)
    click.echo(
        f"internal error: {text} — a bug in ruhrflow, please report it "
        "(set RUHRFLOW_DEBUG=1 for details)",
        err=True,
    )
    ctx.exit(EXIT_INTERNAL)


# Shorter secrets are not masked: they are words ("wrong", "ruhr") as often as secrets, and
# masking them rewrote innocent messages ("the audit key is ***").
MIN_MASKED = 8


def _without_secrets(text: str, obj: Any) -> str:
    """``text`` with every secret ruhrflow knows of replaced by ``***`` (a last line of
    defence: messages are written not to carry secrets in the first place; server replies
    that could echo the SMTP password are not repeated, see notifications/mail/replies.py)."""
    from urllib.parse import quote, quote_plus

    from workflow.app.settings import secret_values
    from workflow.cli.context import CliContext

    urls = [os.environ.get("RUHRFLOW_DATABASE_URL")]
    if isinstance(obj, CliContext):
        urls.append(obj.db_url)
    token = os.environ.get("RUHRFLOW_TOKEN")  # the API token of --server
    forms = {
        form
        for secret in [*secret_values(os.environ, urls), *([token] if token else [])]
        if len(secret) >= MIN_MASKED
        for form in (secret, quote(secret, safe=""), quote_plus(secret))
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Database URL (default: RUHRFLOW_DATABASE_URL, the config, sqlite:///ruhrflow.db).",
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="A TOML file overriding the defaults (or RUHRFLOW_CONFIG).",
)
@click.option(
    "--as",
    "actor_id",
    metavar="ID",
    help="Act as this directory actor (or RUHRFLOW_ACTOR).",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO-DATETIME",
    help="The engine's now, for simulation and tests (naive times are Europe/Berlin).",
)
@click.option(
    "--server",
    "server",
    metavar="URL",
    help="Run the command on the service at URL, as the account of your token (or"
    " RUHRFLOW_SERVER; token: RUHRFLOW_TOKEN or `ruhrflow login`).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what the engine does to stderr.")
@click.version_option(version=__version__, package_name="ruhrflow")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    config_path: str | None,
    actor_id: str | None,
    now_text: str | None,
    server: str | None,
    verbose: bool,
) -> None:
    """ruhrflow — the workflow engine of the Ruhr-Konferenz.

    Carries every proposal through Themenforum, consultation, cabinet decision,
    budget amendment and implementation, keeps a hash-chained history and tells
    the ministries by email what happened and what is due.

    Exit codes: 0 success, 1 refused by the process, 2 bad input, 3 database or
    mail unavailable, 70 internal error (a bug in ruhrflow: please report it).
    """
    import logging

    from workflow.cli.context import CliContext, parse_now

    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        now = parse_now(now_text) if now_text is not None else None  # '' is no time
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    server = server or os.environ.get("RUHRFLOW_SERVER") or None
    if server is not None:
        server = _server_options(server, db_url, actor_id, now)
    ctx.obj = CliContext(
        db_url=db_url,
        config_path=config_path,
        actor_id=actor_id or os.environ.get("RUHRFLOW_ACTOR") or None,
        fixed_now=now,
        server=server,
    )
    from workflow.cli import startup

    startup.resume()  # the subcommand's module is loaded: collect again, past what is frozen


def _server_options(server: str, db_url: str | None, actor_id: str | None, now: Any) -> str:
    """The checked ``--server`` URL; the options that would contradict it are refused: the
    service acts as the token's account, on its own database and its own clock."""
    from workflow.cli.remote import check_server
    from workflow.errors import InvalidInput

    if actor_id or os.environ.get("RUHRFLOW_ACTOR"):
        given = "--as" if actor_id else "RUHRFLOW_ACTOR"
        raise click.UsageError(
            f"{given} cannot be used with --server: the service acts as your token's account"
        )
    if db_url:
        raise click.UsageError("--db and --server exclude each other")
    if now is not None:
        raise click.UsageError("--now cannot be used with --server: the service keeps the time")
    try:
        return check_server(server)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None


def main() -> None:
    """Console-script entry point."""
    from workflow.cli import startup

    startup.pause()  # the collector, while the process starts (workflow/cli/startup.py)
    cli(prog_name="ruhrflow")
