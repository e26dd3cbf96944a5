"""``ruhrflow db grants`` and ``ruhrflow db logins``: the PostgreSQL roles and rights.

People act through the service, never on its database: four group roles (NOLOGIN) per
database, named with the database's own prefix (:mod:`workflow.access.grants`); every person
or functional account logs in as its own database user, a member of one of them:

- ``<prefix>_reader`` — coordinators, forum leads, ministry staff: read, change nothing;
- ``<prefix>_auditor`` — reads; adds only its own checkpoints and verifications;
- ``<prefix>_service`` — the logins of ``ruhrflow serve`` and the scheduler: write the process
  tables and the web application's;
- ``<prefix>_admin`` — the service's rights, and manages ``logins`` (who a login is, who may
  act as others, set the clock, run the scheduler; see :mod:`workflow.access.logins`).

History is INSERT-only for everyone. The statements are idempotent: run ``ruhrflow db grants
--apply`` again after every migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from workflow.cli.backup import backup
from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_table, format_option, local_time


def membership_hints(actors: Sequence[tuple[str, str, str | None]], roles: object) -> list[str]:
    """Commented examples: one login per directory actor, in its group role."""
    from workflow.access.grants import GROUP_OF_ROLE, Roles, ident

    assert isinstance(roles, Roles)
    lines = [
        "-- Each person or functional account logs in as its own database user, mapped to",
        "-- a directory actor by an administrator: `ruhrflow db logins add LOGIN ACTOR`",
        "-- (the table logins; db_user in directory.toml does not count on PostgreSQL).",
        "-- People read; they act through the web application (or `ruhrflow --server URL`).",
        "-- Create the logins with a password of your choice, for example:",
    ]
    for actor_id, role, db_user in actors:
        kind = GROUP_OF_ROLE.get(role)
        if kind is not None:
            login = db_user or actor_id
            lines.append(
                f"--   CREATE ROLE {ident(login)} LOGIN IN ROLE {ident(getattr(roles, kind))};"
                f"  -- then: ruhrflow db logins add {login} {actor_id}"
            )
    lines.append(f"--   CREATE ROLE rk_service LOGIN IN ROLE {ident(roles.service)};"
                 "  -- ruhrflow serve and the scheduler")  # fmt: skip
    lines.append(
        f"--   GRANT {ident(roles.admin)} TO <login>;  -- manages logins, may act as anyone"
    )
    return lines


@click.group(cls=HelpGroup)
def db() -> None:
    """Database administration: the PostgreSQL roles of ruhrflow."""


@db.command("grants")
@click.option("--apply", "apply_", is_flag=True, help="Apply the SQL (PostgreSQL, as the owner).")
@click.option("--schema", default="public", show_default=True, help="Schema of the tables.")
@click.pass_context
def grants(ctx: click.Context, apply_: bool, schema: str) -> None:
    """Print (or --apply) the SQL for this database's roles, and what changes.

    Needs a superuser, or the owner of the tables with CREATEROLE (or ADMIN OPTION on the
    roles); CONNECT on the database is granted by its owner. Idempotent: apply again after
    every migration. Logins of the roles of 0.1.0/0.2.0 (ruhrflow_writer, _auditor, _admin)
    are moved to this database's roles; the old roles keep no right here.
    """
    from workflow.access.directory import load_directory
    from workflow.access.grants import Roles, apply_grants, grant_statements
    from workflow.store.schema import metadata

    c = obj(ctx)
    tables = list(metadata.tables)
    if not apply_:
        directory = load_directory(c.settings.directory_path)
        actors = [(a.id, a.role, a.db_user) for a in directory.actors.values()]
        if c.runtime.store.dialect != "postgresql":
            roles = Roles("rf_DATABASE_xxxx")
            statements = grant_statements(tables, roles, schema)
            lines = ["-- SQLite has no roles; on PostgreSQL each database has its own prefix"]
        else:
            report = apply_grants(c.runtime.store, tables, schema, dry_run=True)
            roles, statements = report.roles, report.statements
            lines = [f"-- {line}" for line in report.lines()]
        click.echo("\n".join([*lines, *statements_text(statements), "",
                              *membership_hints(actors, roles)]))  # fmt: skip
        return
    report = apply_grants(c.runtime.store, tables, schema)
    click.echo(
        f"applied {len(report.statements)} statements: people read, {report.roles.auditor}"
        f" adds its own checkpoints, {report.roles.service} (ruhrflow serve, the scheduler)"
        " writes, history is INSERT-only for everyone"
    )
    for line in report.lines():
        click.echo(line)


@db.group("logins")
def logins_group() -> None:
    """Who each PostgreSQL login is and what else it may do (administrators only).

    The database, not a file, decides on PostgreSQL: the actor of a login, and whether
    it may act as others (--as), set the engine's clock (--now) on commands that write,
    or run the scheduler's system actions (scheduler tick/run, notices send).
    """


@logins_group.command("add")
@click.argument("login")
@click.argument("actor")
@click.option("--may-impersonate", is_flag=True, help="May act as any actor (--as).")
@click.option("--may-set-clock", is_flag=True, help="May set --now on commands that write.")
@click.option("--scheduler", is_flag=True, help="May run scheduler tick/run and notices send.")
@click.pass_context
def logins_add(
    ctx: click.Context,
    login: str,
    actor: str,
    may_impersonate: bool,
    may_set_clock: bool,
    scheduler: bool,
) -> None:
    """Map LOGIN to the directory actor ACTOR (replacing its earlier entry).

    The actor's role and scope are recorded from the directory in use now (the
    administrator's): a directory the login chooses later cannot widen them.
    """
    from workflow.access.logins import add_login

    c = obj(ctx)
    runtime = c.runtime
    entry = add_login(
        runtime.store,
        login,
        runtime.directory.actor(actor),  # UnknownActor (exit 2) for a typo
        may_impersonate=may_impersonate,
        may_set_clock=may_set_clock,
        scheduler=scheduler,
        now=c.now,
    )
    extra = ", ".join(entry.rights()) or "no further rights"
    click.echo(f"login {entry.login} acts as {entry.actor_id} ({extra})")


@logins_group.command("remove")
@click.argument("login")
@click.pass_context
def logins_remove(ctx: click.Context, login: str) -> None:
    """Remove LOGIN's entry: it is nobody for ruhrflow afterwards."""
    from workflow.access.logins import remove_login

    remove_login(obj(ctx).runtime.store, login)
    click.echo(f"login {login} removed")


@logins_group.command("list")
@format_option("table", "json")
@click.pass_context
def logins_list(ctx: click.Context, fmt: str) -> None:
    """Every login with its actor and rights."""
    from workflow.access.logins import list_logins

    entries = list_logins(obj(ctx).runtime.store)
    if fmt == "json":
        emit_json([e.as_dict() for e in entries])
        return
    rows = [
        {**e.as_dict(), "rights": ", ".join(e.rights()) or "-", "at": local_time(e.granted_at)}
        for e in entries
    ]
    columns = [("login", "LOGIN"), ("actor", "ACTOR"), ("rights", "RIGHTS"),
               ("granted_by", "GRANTED BY"), ("at", "AT")]  # fmt: skip
    emit_table(rows, columns)


def statements_text(statements: Sequence[str]) -> list[str]:
    """The statements as a SQL script, one per line."""
    return [f"{statement};" for statement in statements]


def _register_status() -> None:
    from workflow.cli.status import new_installation, status

    db.add_command(status)
    db.add_command(new_installation)


_register_status()
db.add_command(backup)
