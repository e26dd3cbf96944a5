"""``ruhrflow db backup`` and ``ruhrflow notices prune``: keeping a copy, and keeping less.

``db backup --output FILE`` copies the database while the service runs (how:
:mod:`workflow.store.copies`):

* **SQLite** through SQLite's online backup API (``sqlite3.Connection.backup``): a
  consistent copy even while ``serve`` and the scheduler write (a plain ``cp`` of a database in
  WAL mode may miss the pages still in ``-wal`` or tear a page being written). The copy is a
  single self-contained file (journal mode DELETE), made readable only by its owner.
* **PostgreSQL** with ``pg_dump --format=custom`` when it is installed (the password, if the
  URL holds one, goes through ``PGPASSWORD``, never the command line); without it, the
  command to run is printed and the exit code is 3.

A copy is only a backup once it has been restored and verified: README "Deploying" has the
restore procedure (``audit verify`` at the end, ``db new-installation`` for a copy that runs
next to the original).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from workflow.cli.context import obj
from workflow.cli.output import emit_json, format_option
from workflow.cli.progress import Progress, progress_option
from workflow.errors import InvalidInput, StoreUnavailable
from workflow.store.copies import backup_sqlite, libpq_url, pg_dump_command, sqlite_path


@click.command("backup")
@click.option("--output", "output", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the copy (refused if it exists).")  # fmt: skip
@format_option("text", "json")
@click.pass_context
def backup(ctx: click.Context, output: Path, fmt: str) -> None:
    """Copy the database while the service runs (SQLite: online backup; PostgreSQL: pg_dump)."""
    c = obj(ctx)
    url = c.settings.database_url
    try:  # made first, 0600 and exclusively: the copy is never readable by others, not even
        # while it is being written (umask aside), and an existing file is never overwritten
        os.close(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise InvalidInput(f"{output} exists: choose a new file, nothing was written") from None
    except OSError as exc:
        raise InvalidInput(f"{output}: {exc.strerror or exc}") from None
    if url.startswith("sqlite"):
        try:
            pages = backup_sqlite(sqlite_path(url), output)
        except BaseException:
            output.unlink(missing_ok=True)  # no half copy, and the name is free again
            raise
        os.chmod(output, 0o600)
        result = {"backend": "sqlite", "output": str(output), "pages": pages,
                  "bytes": output.stat().st_size}  # fmt: skip
    else:
        command = pg_dump_command(url, output)
        if shutil.which("pg_dump") is None:
            click.echo(
                "error: pg_dump is not installed (Debian: apt-get install postgresql-client);"
                " run this on a machine that has it (the password from PGPASSWORD or"
                " ~/.pgpass):",
                err=True,
            )
            click.echo("  " + " ".join(command), err=True)
            output.unlink(missing_ok=True)
            ctx.exit(StoreUnavailable.exit_code)
        _, password = libpq_url(url)
        env = dict(os.environ)
        if password is not None:
            env["PGPASSWORD"] = password
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            output.unlink(missing_ok=True)
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise StoreUnavailable(f"pg_dump failed (exit {done.returncode}): {first}")
        os.chmod(output, 0o600)
        result = {"backend": "postgresql", "output": str(output), "format": "custom",
                  "bytes": output.stat().st_size}  # fmt: skip
    if fmt == "json":
        emit_json(result)
    else:
        click.echo(f"backup of the {result['backend']} database written to {output}"
                   f" ({result['bytes']} bytes); restore it and run `ruhrflow audit verify`"
                   " to know it is good")  # fmt: skip


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Only count what would be pruned.")
@format_option("text", "json")
@progress_option
@click.pass_context
def prune(ctx: click.Context, dry_run: bool, fmt: str, quiet: bool) -> None:
    """Remove the text of mails sent longer ago than [retention] mail_body_days.

    Subject, recipients, times and status of every notice stay, and so does the history.
    """
    from workflow.app.retention import prune_mail_bodies, retention_days

    c = obj(ctx)
    days = retention_days(c.settings.section("retention"))
    if not dry_run:
        c.require_system("prune the outbox")
    with Progress("prune", unit="notices", quiet=quiet or dry_run) as progress:
        result = prune_mail_bodies(
            c.runtime.store, c.now, days, dry_run=dry_run, progress=progress.callback
        )
    if fmt == "json":
        emit_json({**result.as_dict(), "mail_body_days": days})
        return
    if result.cutoff is None:
        click.echo("retention.mail_body_days is 0: mails are kept for ever, nothing pruned")
        return
    verb = "would prune" if dry_run else "pruned"
    click.echo(
        f"{verb} the mail text of {result.notices} notice(s) sent before"
        f" {result.cutoff.isoformat(timespec='seconds')} (mail_body_days = {days})"
    )
