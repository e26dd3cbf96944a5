"""``ruhrflow demo``: the Ruhr-Konferenz 2019 round end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workflow.cli.output import emit_table, german_amount


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ruhrflow-demo"),
    show_default=True,
    help="Where the SQLite database, the Maildir and the demo's config go.",
)
@click.option("--fresh", is_flag=True, help="Replace a previous run in --dir.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines, only the summary.")
@click.option("--password", metavar="TEXT", default=None,
              help="Password of the demo web accounts (default: random, shown once).")  # fmt: skip
def demo(directory: Path, fresh: bool, quiet: bool, password: str | None) -> None:
    """Play the Ruhr-Konferenz 2019 round, from the Themenforen to the outcomes of 2024.

    The real engine, deadline sweeps, outbox and weekly digests run under a simulated
    clock (nothing sleeps); the mails land in a Maildir. Ignores --db and --config: the
    demo always uses its own directory.
    """
    from workflow.access.accounts import MIN_PASSWORD_LENGTH
    from workflow.cli.progress import Progress
    from workflow.demo.run import run_demo

    if password is not None and len(password) < MIN_PASSWORD_LENGTH:  # before the 10 s run
        raise click.BadParameter(
            f"needs at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password"
        )
    with Progress("demo", quiet=quiet) as progress:
        summary = run_demo(directory, fresh=fresh, progress=progress.note)
    web_password = _demo_accounts(summary.config, password)
    _print_summary(summary)
    click.echo(
        f"  ruhrflow --config {summary.config} serve   # then open http://127.0.0.1:8000/"
        " (the board at /public/)"
    )
    click.echo(
        f"  ruhrflow --config {summary.config} scheduler run   # sends the mail the web queues"
    )
    click.echo("")
    click.echo(f"Web accounts: {', '.join(DEMO_ACCOUNTS)}")
    click.echo(f"  password (shown only now): {web_password}")
    if not summary.verify_ok:
        raise click.exceptions.Exit(1)


# One account per role: coordination, two ministries, a Themenforum, the auditors.
DEMO_ACCOUNTS = ("koordination", "im", "mwide", "forum-03", "pruefung")


def _demo_accounts(config: Path, password: str | None) -> str:
    """Create the demo's web accounts; returns their password."""
    import secrets
    from datetime import UTC, datetime

    from workflow.access.accounts import set_shared_password
    from workflow.app.runtime import open_runtime
    from workflow.app.settings import load_settings

    password = password or secrets.token_urlsafe(12)
    runtime = open_runtime(load_settings(config, env={}))
    try:
        set_shared_password(
            runtime.store, runtime.directory, DEMO_ACCOUNTS, password, datetime.now(UTC)
        )  # one argon2 hash for the five (0.15 s each)
    finally:
        runtime.close()
    return password


def _print_summary(s: Any) -> None:
    click.echo("")
    click.echo(f"ruhrflow demo: the Ruhr-Konferenz 2019 round, played in {s.seconds:.1f} s")
    click.echo("")
    click.echo("Proposals by status group, state and Handlungsfeld:")
    hf = sorted(k for k in s.status_rows[0] if k.startswith("hf")) if s.status_rows else []
    columns = [("group", "GROUP"), ("state", "STATE"), *[(k, k.upper()) for k in hf]]
    emit_table([r for r in s.status_rows if r.get("total")], [*columns, ("total", "TOTAL")])
    click.echo("")
    click.echo(f"2020 Landesmittel: {german_amount(s.funds_2020)}")
    click.echo("")
    click.echo("Notices (outbox) by kind and status:")
    rows = [
        {"kind": kind, **{k: v for k, v in by_status.items()}}
        for kind, by_status in sorted(s.notices.items())
    ]
    statuses = sorted({k for r in rows for k in r if k != "kind"})
    emit_table(rows, [("kind", "KIND"), *[(st, st.upper()) for st in statuses]])
    click.echo("")
    overdue = sum(len(g["deadlines"]) for g in s.overdue)
    click.echo(f"Overdue at the end (31 Dec 2024): {overdue} deadline(s)")
    for g in s.overdue:
        click.echo(f"  {g['ministry']}: {len(g['deadlines'])}")
    click.echo("")
    verdict = "OK" if s.verify_ok else "FAILED"
    click.echo(f"audit verify: {verdict} — {s.verify_text}")
    click.echo(f"database: {s.database}")
    click.echo(f"mail:     {s.maildir} (Maildir: new/ holds one file per message)")
    board = s.board
    counts = ", ".join(f"{n} {g}" for g, n in board.counts.items())
    click.echo(f"board:    {board.output} (Sachstand {board.as_of:%d.%m.%Y}: {counts})")
    click.echo(f"          served at /public/ by `serve`; checkpoint {board.digest}")
    click.echo("")
    cfg = s.config
    click.echo("Try next:")
    click.echo(f"  ruhrflow --config {cfg} proposal list --state implementation")
    click.echo(f"  ruhrflow --config {cfg} history RK-03-01")
    click.echo(f"  ruhrflow --config {cfg} audit verify")
