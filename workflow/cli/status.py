"""``ruhrflow db status`` and ``ruhrflow db new-installation``: where a database stands, and
making a copy an installation of its own."""

from __future__ import annotations

import click

from workflow.cli.context import obj
from workflow.cli.output import emit_json, format_option, local_time


@click.command("status")
@format_option("text", "json")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Schema revision (and the one this ruhrflow expects), pending migrations, installation
    id, registered definition versions with their proposals, and the PostgreSQL grants.

    Exit 0 when the database is ready for this ruhrflow, 1 when it needs `ruhrflow init` or
    `ruhrflow db grants --apply` (or a newer ruhrflow).
    """
    from workflow.app.status import database_status

    c = obj(ctx)
    c.schema_check = False  # it reports the schema, whatever it is
    report = database_status(c.runtime.store)
    grants = report.grants
    ready = report.schema == "current" and not grants.get("problems")
    if fmt == "json":
        emit_json({**report.as_dict(), "ready": ready})
    else:
        for line in _lines(report):
            click.echo(line)
    if not ready:
        raise click.exceptions.Exit(1)


def _lines(report: object) -> list[str]:
    from workflow.app.status import DatabaseStatus

    assert isinstance(report, DatabaseStatus)
    r = report
    verdict = {
        "current": "current",
        "empty": "empty: run `ruhrflow init`",
        "older": "older than this ruhrflow: run `ruhrflow init`",
        "newer": "newer than this ruhrflow: upgrade ruhrflow",
    }[r.schema]
    out = [
        f"database      {r.url} ({r.backend})",
        f"ruhrflow      {r.code_version}",
        f"schema        {r.revision or '-'} ({verdict}); this ruhrflow expects {r.expected}",
    ]
    if r.pending:
        out.append(f"pending       {len(r.pending)} migration(s): {', '.join(r.pending)}")
    out.append(f"installation  {r.installation_id or '- (run `ruhrflow init`)'}")
    if r.sample_data:
        out.append("sample data   yes (the demo's database)")
    if not r.definitions:
        out.append("definitions   none registered")
    for i, d in enumerate(r.definitions):
        head = "definitions   " if i == 0 else "              "
        fmt = (
            f"format {d.file_format}"
            if d.file_format is not None
            else f"DOES NOT LOAD: {d.problem}"
        )
        out.append(f"{head}{d.name} v{d.version}: {d.proposals} proposal(s), {fmt},"
                   f" registered {local_time(d.registered_at)}")  # fmt: skip
    if r.backend == "postgresql":
        g = r.grants
        if not g:
            out.append("grants        unknown until the schema is current")
        else:
            roles = g.get("roles") or {}
            names = ", ".join(f"{k} {v}" for k, v in roles.items()) or "-"
            state = "match this version" if g.get("matches") else "DO NOT match this version"
            out.append(f"grants        {state}; roles: {names}")
            out.extend(f"              {p}" for p in g.get("problems", []))
    return out


@click.command("new-installation")
@click.option("--reason", metavar="TEXT", help="Why (kept in the history of @system).")
@click.pass_context
def new_installation(ctx: click.Context, reason: str | None) -> None:
    """Give this database a new installation id: run it on every copy (staging, a test
    restore) before its scheduler runs, so that its mails never carry the Message-IDs and
    calendar UIDs of the database it was copied from. Recorded on @system.
    """
    from workflow.app.bootstrap import new_installation as renew

    c = obj(ctx)
    actor = c.require_actor()
    runtime = c.runtime
    done = renew(runtime.store, actor_id=actor, now=c.now,
                 audit_key=runtime.settings.audit_key, reason=reason)  # fmt: skip
    click.echo(f"installation id {done.old_id} → {done.new_id} (recorded on @system as"
               f" entry {done.seq})")  # fmt: skip
