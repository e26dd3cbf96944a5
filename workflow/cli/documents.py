"""``ruhrflow document add|list|get``: files attached to a proposal, checked by content."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from workflow.cli.context import CliContext, obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_table, format_option, local_time

if TYPE_CHECKING:
    from workflow.documents.attach import DocumentPolicy


@click.group(cls=HelpGroup)
def document() -> None:
    """Documents: attach a file to a proposal, list them, get one back byte for byte."""


def _policy(c: CliContext) -> DocumentPolicy:
    from workflow.documents.attach import DocumentPolicy

    return DocumentPolicy.from_section(c.settings.section("documents"))


@document.command("add")
@click.argument("key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--statement", "statement_id", type=click.IntRange(1), metavar="ID",
              help="The consultation statement it belongs to (`proposal show KEY`).")  # fmt: skip
@click.option("--transition", "transition_seq", type=click.IntRange(1), metavar="SEQ",
              help="The transition entry it belongs to (`history KEY`).")  # fmt: skip
@click.option("--name", help="The name to show and download it under (default: FILE's).")
@click.option("--comment", help="Why (kept in the history entry).")
@click.pass_context
def add(
    ctx: click.Context,
    key: str,
    file: Path,
    statement_id: int | None,
    transition_seq: int | None,
    name: str | None,
    comment: str | None,
) -> None:
    """Attach FILE (PDF, office formats, images; checked by content) to proposal KEY.

    Its SHA-256 goes into the history entry that attaches it, so `audit verify` proves the
    stored file unchanged.
    """
    from workflow.documents.attach import attach
    from workflow.errors import InvalidInput
    from workflow.inputs import read_file_bytes

    c = obj(ctx)
    actor = c.require_actor()
    policy = _policy(c)
    try:
        if file.stat().st_size > policy.max_bytes:  # before reading it all into memory
            limit = policy.max_bytes / (1024 * 1024)
            raise InvalidInput(f"{file}: the file is larger than {limit:g} MB")
        content = read_file_bytes(file, policy.max_bytes)  # not /dev/zero, not a FIFO
    except OSError as exc:
        raise InvalidInput(f"{file}: {exc.strerror or exc}") from None
    done = attach(
        c.runtime.engine, policy, key, content, name or file.name, actor=actor, now=c.now,
        statement_id=statement_id, transition_seq=transition_seq, comment=comment,
    )  # fmt: skip
    d = done.document
    click.echo(f"{key}: {d.filename} ({d.content_type}, {d.size} bytes) attached as"
               f" #{done.applied.seq}, SHA-256 {d.sha256}")  # fmt: skip


@document.command("list")
@click.argument("key")
@format_option("table", "json")
@click.pass_context
def list_(ctx: click.Context, key: str, fmt: str) -> None:
    """The documents of proposal KEY, oldest first."""
    from workflow.documents.attach import list_documents

    found = list_documents(obj(ctx).runtime.store, key)
    if fmt == "json":
        emit_json(found)
        return
    rows = [
        {**d, "sha": d["sha256"][:16], "kb": f"{d['size'] / 1024:.0f}",
         "about": f"statement {d['statement']}" if d["statement"]
         else f"entry {d['transition']}" if d["transition"] else "-",
         "at": local_time_of(d["attached_at"])}
        for d in found
    ]  # fmt: skip
    columns = [("sha", "SHA-256"), ("filename", "NAME"), ("kb", "KB"), ("about", "ABOUT"),
               ("entry", "ENTRY"), ("at", "ATTACHED")]  # fmt: skip
    emit_table(rows, columns)


def local_time_of(iso: str) -> str:
    from datetime import datetime

    return local_time(datetime.fromisoformat(iso))


@document.command("get")
@click.argument("key")
@click.argument("sha256")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (refused if it exists; - for standard output).")  # fmt: skip
@click.pass_context
def get(ctx: click.Context, key: str, sha256: str, output: Path) -> None:
    """Write document SHA256 of proposal KEY to --output, byte for byte (its SHA-256 is
    checked first: a changed file is refused, exit 1)."""
    from workflow.documents.attach import read_document
    from workflow.errors import InvalidInput

    c = obj(ctx)
    policy = _policy(c)
    meta, content = read_document(c.runtime.store, policy, key, sha256)
    if str(output) == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{output} exists: nothing was written") from None
    except OSError as exc:
        raise InvalidInput(f"{output}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    click.echo(f"{key}: {meta['filename']} ({meta['size']} bytes, SHA-256 checked) → {output}",
               err=True)  # fmt: skip
