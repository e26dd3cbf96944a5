"""``ruhrflow audit verify|checkpoint|log|export|pseudonymise``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from workflow.cli.advance import HISTORY_FIELDS
from workflow.cli.context import obj, parse_now
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_listing, format_option, listing_options, local_time
from workflow.cli.progress import Progress, progress_option
from workflow.process.vocabulary import BERLIN


@click.group(cls=HelpGroup)
def audit() -> None:
    """Verify, checkpoint, read and export the hash-chained history."""


@audit.command("verify")
@click.option(
    "--checkpoint",
    "digest",
    metavar="DIGEST",
    help="Also prove nothing was truncated or deleted since this checkpoint.",
)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify an export file offline instead of the database.",
)
@click.option(
    "--record",
    is_flag=True,
    help="Record the result in the history (@system), where the web's audit page shows the"
    " last verification; needs --as and a login that may write.",
)
@format_option("text", "json")
@progress_option
@click.pass_context
def verify(
    ctx: click.Context,
    digest: str | None,
    file: Path | None,
    record: bool,
    fmt: str,
    quiet: bool,
) -> None:
    """Re-compute every chain; exit 1 at the first break, naming the chain and seq.

    Uses RUHRFLOW_AUDIT_KEY when the history is keyed (HMAC-SHA-256).
    """
    from workflow.app.machine import as_json
    from workflow.audit.export import verify_file
    from workflow.errors import AuditBreak

    c = obj(ctx)
    if record and file is not None:
        raise click.UsageError("--record records a verification of the database, not of a file")
    with Progress("verify", unit="entries", quiet=quiet) as progress:
        if file is not None:  # offline: the file and the key, no database nor service
            key = c.settings.audit_key if c.server is None else _env_audit_key()
            checked = verify_file(
                file, key=key, checkpoint_digest=digest, progress=progress.callback
            )
            result = as_json(checked.as_dict())
        else:
            result = c.backend.audit_verify(
                checkpoint=digest, record=record, progress=progress.callback
            )
    seq = result.pop("recorded_seq", None)
    if seq is not None:  # a break is recorded too: that is what the auditor must see
        click.echo(f"recorded as @system seq {seq}", err=True)
    documents = result.get("documents")  # not in a file, nor checked past a broken chain
    document_break = documents["broken"] if documents else None
    if fmt == "json":
        emit_json(result)
        if result["broken"] is not None or document_break is not None:
            ctx.exit(1)
        return
    if result["broken"] is not None:
        b = result["broken"]
        click.echo(f"checked {result['entries']} entries before the break", err=True)
        raise AuditBreak(b["chain"], b["seq"], b["problem"])
    if document_break is not None:
        b = document_break
        raise AuditBreak(b["key"], b["seq"], f"document {b['sha256']}: {b['problem']}")
    source = f" in {file}" if file is not None else ""
    click.echo(
        f"ok: {result['entries']} entries in {result['chains']} chains verified{source}"
        f" ({result['hash']})"
    )
    if documents is not None:
        click.echo(f"documents: {documents['checked']} verified against their history entries")
    click.echo(f"heads digest {result['heads_digest']}")
    if result["checkpoint"] is not None:
        cp = result["checkpoint"]
        cut_off = f", the history as of the end of {cp['as_of']}" if cp["as_of"] else ""
        click.echo(
            f"checkpoint {cp['digest']} of {local_time(cp['at'])}{cut_off}"
            f" ({cp['rows']} entries, {cp['chains']} chains): nothing truncated or deleted since"
        )


def _env_audit_key() -> bytes | None:
    """RUHRFLOW_AUDIT_KEY for ``verify --file`` with --server (no settings are loaded)."""
    import os

    value = os.environ.get("RUHRFLOW_AUDIT_KEY")
    return value.encode("utf-8") if value else None


@audit.command("checkpoint")
@format_option("text", "json")
@click.pass_context
def checkpoint(ctx: click.Context, fmt: str) -> None:
    """Print one digest over all chain heads and record it in the history.

    Write the digest down outside the database: `audit verify --checkpoint DIGEST`
    later proves that no chain lost entries since.
    """
    cp = obj(ctx).backend.audit_checkpoint()
    if fmt == "json":
        emit_json(cp)
        return
    click.echo(f"checkpoint {cp['digest']}")
    click.echo(
        f"at {local_time(cp['at'])} (Europe/Berlin), {cp['rows']} entries in {cp['chains']} chains"
    )
    click.echo(f"recorded as @system seq {cp['system_seq']}; keep the digest outside the database")


def _bound(text: str | None, *, end: bool) -> datetime | None:
    """A --since/--until value: a date means that whole day in Europe/Berlin."""
    if text is None:
        return None
    if "T" in text or " " in text:
        try:
            return parse_now(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    from workflow.cli.context import parse_day

    day = parse_day(text)
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    return start + timedelta(days=1) if end else start


@audit.command("log")
@click.argument("key", required=False)
@click.option("--since", metavar="DATE", help="From this day (Europe/Berlin) or ISO time on.")
@click.option("--until", metavar="DATE", help="Up to and including this day (or before a time).")
@click.option("--actor", metavar="ID", help="Only entries by this actor id or pseudonym.")
@click.option("--trigger", metavar="T", help="Only entries with this trigger.")
@listing_options
@click.pass_context
def log(
    ctx: click.Context,
    key: str | None,
    since: str | None,
    until: str | None,
    actor: str | None,
    trigger: str | None,
    fmt: str,
    output: Path | None,
    excel: bool,
) -> None:
    """History entries of one proposal (KEY) or of all, oldest first, streamed.

    The table is one line per entry; json and csv carry the fields of `history`.
    """
    lower, upper = _bound(since, end=False), _bound(until, end=True)
    entries = obj(ctx).backend.audit_log(
        key=key, since=lower, until=upper, actor=actor, trigger=trigger
    )
    if fmt == "table" and output is None:
        for e in entries:
            click.echo(_log_line(e))
    else:
        emit_listing(entries, HISTORY_FIELDS, fmt, output=output, excel=excel)


def _log_line(e: Mapping[str, Any]) -> str:
    change = e["to_state"] or ""
    if e["from_state"] and e["from_state"] != e["to_state"]:
        change = f"{e['from_state']} → {e['to_state']}"
    line = f"{local_time(e['at'])}  {e['key']} #{e['seq']}  {e['actor']}  {e['trigger']}"
    if change:
        line += f"  {change}"
    if e["comment"]:
        line += f"  „{e['comment']}“"
    return "".join(ch if ch.isprintable() else " " for ch in line)


@audit.command("export")
@format_option("jsonl", "csv")
@click.option(
    "--output",
    "output",
    required=True,
    metavar="FILE",
    help="The file to write ('-' for standard output).",
)
@click.option("--excel", is_flag=True, help="CSV for German Excel: ';' between cells.")
@progress_option
@click.pass_context
def export(ctx: click.Context, fmt: str, output: str, excel: bool, quiet: bool) -> None:
    """Export every history entry with its hashes, for verification offline.

    A CSV file starts with a byte order mark (for Excel) and has its formula-like cells
    neutralised; `audit verify --file` reads both back to the original values.
    """
    from workflow.errors import InvalidInput

    backend = obj(ctx).backend
    delimiter = ";" if excel else ","
    with Progress("export", unit="entries", quiet=quiet) as progress:
        if output == "-":
            summary = backend.audit_export(
                sys.stdout, fmt=fmt, delimiter=delimiter, bom=excel, progress=progress.callback
            )
        else:
            path = Path(output)
            partial = path.with_name(path.name + ".partial")
            try:
                with partial.open("w", encoding="utf-8", newline="") as out:
                    summary = backend.audit_export(
                        out, fmt=fmt, delimiter=delimiter, bom=fmt == "csv",
                        progress=progress.callback,
                    )  # fmt: skip
                partial.replace(path)
            except OSError as exc:
                raise InvalidInput(f"{output}: {exc.strerror or exc}") from None
    click.echo(
        f"exported {summary['rows']} entries of {summary['chains']} chains to {output};"
        f" heads digest {summary['heads_digest']}",
        err=True,
    )


@audit.command("pseudonymise")
@click.argument("actor_id", metavar="ACTOR-ID")
@click.pass_context
def pseudonymise(ctx: click.Context, actor_id: str) -> None:
    """Replace ACTOR-ID behind every past entry by a pseudonym (GDPR erasure).

    History rows stay untouched (they hold an opaque ref), so every chain still
    verifies; the erasure is recorded on the system chain without the person's id.
    """
    c = obj(ctx)
    done = c.runtime.engine.pseudonymise(actor_id, by=c.require_actor(), now=c.now)
    click.echo(
        f"pseudonymised {done.refs} ref(s) as {done.pseudonym}"
        f" (recorded as @system seq {done.system_seq})"
    )
