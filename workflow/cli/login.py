"""``ruhrflow login --server URL``: a token for the CLI, from an account and its password.

The password goes to the service once (``POST /api/tokens``, throttled like the login page);
the token it answers is written to the token file with mode 0600, for ``ruhrflow --server``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workflow.cli.context import obj


@click.command()
@click.option("--server", "server", metavar="URL",
              help="The service (default: the global --server or RUHRFLOW_SERVER).")  # fmt: skip
@click.option("--account", metavar="NAME", help="Your web account (asked when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True,
              help="How long the token lasts.")  # fmt: skip
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to keep the token (default: RUHRFLOW_TOKEN_FILE or"
                   " ~/.config/ruhrflow/token).")  # fmt: skip
@click.pass_context
def login(
    ctx: click.Context,
    server: str | None,
    account: str | None,
    password_stdin: bool,
    days: int,
    token_file: Path | None,
) -> None:
    """Log in to the service at --server and keep a token for `ruhrflow --server`."""
    from workflow.cli.remote import Client, check_server, default_token_file, write_token
    from workflow.errors import InvalidInput

    url = server or obj(ctx).server
    if url is None:
        raise click.UsageError("name the service: ruhrflow login --server URL")
    url = check_server(url)
    if account is None:
        account = click.prompt("Account", type=str)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, type=str)
    if not password:
        raise InvalidInput("no password given")
    data, _ = Client(url, None).call(
        "POST",
        "/api/tokens",
        body={"account": account, "password": password, "expires_in_days": days},
    )
    path = token_file or default_token_file()
    try:
        write_token(path, url, str(data["token"]))
    except OSError as exc:
        raise InvalidInput(f"cannot write the token file {path}: {exc.strerror or exc}") from None
    click.echo(
        f"logged in to {url} as {data['account']}; token in {path} until {data['expires_at']}"
    )
