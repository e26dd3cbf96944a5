"""``ruhrflow serve``, ``ruhrflow user`` and ``ruhrflow token``: the web application's edge."""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_rows, format_option
from workflow.inputs import capped_whole_number

_DURATION = re.compile(r"^\s*([0-9]+)\s*([dhw])\s*$")
LONGEST = timedelta(days=3650)  # a token that should outlive ten years is "never"
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def parse_expiry(text: str) -> timedelta:
    """``90d``, ``12h`` or ``2w``, at most ten years."""
    m = _DURATION.match(text)
    unit = _HOURS[m.group(2)] if m else 1
    most = LONGEST.days * 24 // unit  # in the duration's unit
    n = capped_whole_number(m.group(1), most) if m else None
    if not n:
        raise click.BadParameter(f"{text!r} is not a duration such as 90d, 12h or 2w")
    if n > most:
        raise click.BadParameter(f"{text!r} is longer than {LONGEST.days}d; for a token that does"
                                 " not expire, say never")  # fmt: skip
    return timedelta(hours=n * unit)


DEFAULT_TIMEOUT = 300  # a web "verify now" of a large history may take minutes
MAIL_NOTE = (
    "mail goes out only while `ruhrflow scheduler run` runs: the web application queues"
    " notices in the outbox, the scheduler delivers them"
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")  # fmt: skip
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True,
              type=click.IntRange(1, 86_400),
              help="Seconds a worker may spend on one request before it is restarted.")  # fmt: skip
@click.option("--gunicorn-config", "gunicorn_config", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="A gunicorn config file (Python); GUNICORN_CMD_ARGS wins over it.")  # fmt: skip
@click.option("--control-socket", "control_socket", metavar="PATH",
              help="gunicorn's control socket for gunicornc (default: none).")  # fmt: skip
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    timeout: int,
    gunicorn_config: str | None,
    control_socket: str | None,
) -> None:
    """Run the web application under gunicorn (workflow.web:create_app for other servers).

    Settings apply in this order, each over the one before: ruhrflow's defaults, the
    --gunicorn-config file, GUNICORN_CMD_ARGS, then the options given here. The database is
    waited for ([database] wait_seconds) before the workers start.

    The web application only queues mail in the outbox: it goes out while `ruhrflow
    scheduler run` runs (serve says so when it starts).
    """
    import logging

    from workflow.app.logs import LogSettings, configure_logging
    from workflow.web.server import ServeOptions, run_gunicorn

    settings = obj(ctx).settings
    # in the server's log format (run_gunicorn sets the same again); nothing imported here
    # may load prometheus_client before run_gunicorn has set up the metrics directory
    configure_logging(LogSettings.from_section(settings.section("logging")))
    logging.getLogger("ruhrflow.serve").info(MAIL_NOTE)
    explicit = {
        name
        for name in ("host", "port", "workers", "timeout")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    run_gunicorn(
        settings,
        ServeOptions(
            host=host,
            port=port,
            workers=workers,
            timeout=timeout,
            config_file=gunicorn_config,
            control_socket=control_socket,
            explicit=frozenset(explicit),
        ),
    )


@click.group(cls=HelpGroup)
def user() -> None:
    """Web accounts bound to directory actors."""


@user.command("set-password")
@click.argument("actor_id", metavar="ACTOR")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from the first line of standard input.")  # fmt: skip
@click.pass_context
def set_password(ctx: click.Context, actor_id: str, password_stdin: bool) -> None:
    """Create the web account of ACTOR or set its password (and enable it)."""
    from workflow.access.accounts import set_password as store_password

    c = obj(ctx)
    password = sys.stdin.readline().rstrip("\r\n")
    rt = c.runtime
    store_password(rt.store, rt.directory, actor_id, password, c.now)
    click.echo(f"password set for {actor_id}")


@user.command("disable")
@click.argument("actor_id", metavar="ACTOR")
@click.pass_context
def disable(ctx: click.Context, actor_id: str) -> None:
    """Disable ACTOR's account: its sessions end and its API tokens are revoked, for good
    (a later set-password brings neither back)."""
    from workflow.access.accounts import disable as disable_account

    c = obj(ctx)
    disable_account(c.runtime.store, actor_id, c.now)
    click.echo(f"disabled {actor_id}")


@user.command("list")
@format_option("table", "json")
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> None:
    """Every web account (PASSWORD false: made by an SSO login, no password login)."""
    from workflow.access.accounts import list_accounts

    rt = obj(ctx).runtime
    rows = [a.as_dict() for a in list_accounts(rt.store, rt.directory)]
    emit_rows(
        rows,
        [("actor", "ACTOR"), ("role", "ROLE"), ("disabled", "DISABLED"),
         ("password", "PASSWORD"), ("last_login_at", "LAST LOGIN")],
        fmt,
    )  # fmt: skip


@click.group(cls=HelpGroup)
def token() -> None:
    """API tokens (``Authorization: Bearer …``)."""


@token.command("create")
@click.argument("actor_id", metavar="ACTOR")
@click.option("--expires", "expires", default="90d", show_default=True, metavar="DURATION",
              help="Lifetime: 90d, 12h, 2w (at most 3650d), or 'never'.")  # fmt: skip
@click.pass_context
def create(ctx: click.Context, actor_id: str, expires: str) -> None:
    """Create a token for ACTOR's account; the token is printed once, on the last line."""
    from workflow.access.accounts import create_token

    c = obj(ctx)
    lifetime = None if expires == "never" else parse_expiry(expires)
    token_id, secret = create_token(c.runtime.store, actor_id, c.now, expires_in=lifetime)
    until = "never" if lifetime is None else (c.now + lifetime).isoformat(timespec="minutes")
    click.echo(f"token {token_id} for {actor_id}, expires {until}; it is shown only now:")
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_context
def revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke token ID at once."""
    from workflow.access.accounts import revoke_token

    c = obj(ctx)
    revoke_token(c.runtime.store, token_id, c.now)
    click.echo(f"revoked token {token_id}")
