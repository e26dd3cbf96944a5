"""``ruhrflow db grants``: the PostgreSQL roles that decide who may touch what.

Two group roles (NOLOGIN); every person or functional account logs in as its own
database user and is made a member of one of them:

- ``ruhrflow_writer`` — coordinators, forum leads, ministry staff, the scheduler:
  read and write the process tables, read the definitions, add (never change)
  actor refs;
- ``ruhrflow_auditor`` — read-only, every table.

History is INSERT-only for everyone: no UPDATE, DELETE or TRUNCATE on ``history``
for the group roles, PUBLIC or the table owner (a superuser still can — see
docs/threat-model.md). Actor refs are INSERT-only for writers, because changing the
id behind a ref would re-attribute history without touching a hash. The statements
are idempotent: run ``ruhrflow db grants --apply`` again after every migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from workflow.cli.context import obj

WRITER = "ruhrflow_writer"
AUDITOR = "ruhrflow_auditor"
# Rows never change once written: SELECT and INSERT for writers, nothing else for anyone.
APPEND_ONLY = ("history",)
# Writers read and add, never change: changing the actor behind a ref re-attributes history.
INSERT_ONLY_FOR_WRITERS = ("actor_refs",)
# Written only by the database owner (``ruhrflow init``: migrations, definition versions).
READ_ONLY_FOR_WRITERS = ("definitions", "alembic_version")
# Which group role a directory role's login joins.
GROUP_OF_ROLE = {
    "coordinator": WRITER,
    "forum_lead": WRITER,
    "ministry": WRITER,
    "system": WRITER,
    "auditor": AUDITOR,
}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def grant_statements(tables: Iterable[str], schema: str = "public") -> list[str]:
    """The SQL (one statement per item) that creates the roles and sets every privilege.

    ``tables`` are the ruhrflow tables; a table not named in one of the policy lists
    above is a process table (read/write for writers).
    """
    names = sorted(set(tables) | set(READ_ONLY_FOR_WRITERS))
    roles = f"{WRITER}, {AUDITOR}"
    s = _ident(schema)
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(r)})"
        f" THEN CREATE ROLE {r} NOLOGIN; END IF; END $$"
        for r in (WRITER, AUDITOR)
    ]
    out += [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC, {roles}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC, {roles}",
        f"GRANT USAGE ON SCHEMA {s} TO {roles}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {AUDITOR}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {WRITER}",
    ]
    for name in names:
        table = f"{s}.{_ident(name)}"
        if name in APPEND_ONLY or name in INSERT_ONLY_FOR_WRITERS:
            privileges = "SELECT, INSERT"
        elif name in READ_ONLY_FOR_WRITERS:
            privileges = "SELECT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        out.append(f"GRANT {privileges} ON {table} TO {WRITER}")
    for name in APPEND_ONLY:
        table = f"{s}.{_ident(name)}"
        out.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, {roles}")
        # The owner holds every privilege by default; take these three away from it too.
        out.append(
            "DO $$ DECLARE owner name; BEGIN"
            f" SELECT tableowner INTO owner FROM pg_tables"
            f" WHERE schemaname = {_literal(schema)} AND tablename = {_literal(name)};"
            " IF owner IS NOT NULL THEN EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON '"
            f" || {_literal(table)} || ' FROM ' || quote_ident(owner);"
            " END IF; END $$"
        )
    return out


def membership_hints(actors: Sequence[tuple[str, str, str | None]]) -> list[str]:
    """Commented examples: one login per directory actor, in its group role."""
    lines = [
        "-- Each person or functional account logs in as its own database user, mapped to",
        '-- a directory actor (db_user = "…" in directory.toml, else the login name = the',
        "-- actor id). Create the logins with a password of your choice, for example:",
    ]
    for actor_id, role, db_user in actors:
        group = GROUP_OF_ROLE.get(role)
        if group is not None:
            lines.append(
                f"--   CREATE ROLE {_ident(db_user or actor_id)} LOGIN IN ROLE {group};"
                f"  -- {actor_id} ({role})"
            )
    return lines


@click.group()
def db() -> None:
    """Database administration: the PostgreSQL roles of ruhrflow."""


@db.command("grants")
@click.option("--apply", "apply_", is_flag=True, help="Apply the SQL (PostgreSQL, as the owner).")
@click.option("--schema", default="public", show_default=True, help="Schema of the tables.")
@click.pass_context
def grants(ctx: click.Context, apply_: bool, schema: str) -> None:
    """Print (or --apply) the SQL for the roles ruhrflow_writer and ruhrflow_auditor.

    History is INSERT-only for everyone. Idempotent: apply again after a migration.
    """
    from workflow.access.directory import load_directory
    from workflow.store.schema import metadata

    c = obj(ctx)
    statements = grant_statements(metadata.tables, schema)
    if not apply_:
        directory = load_directory(c.settings.directory_path)
        actors = [(a.id, a.role, a.db_user) for a in directory.actors.values()]
        click.echo("\n".join([*statements_text(statements), "", *membership_hints(actors)]))
        return
    _apply(c.runtime.store, statements)
    click.echo(
        f"applied {len(statements)} statements: {WRITER} reads and writes the process tables,"
        f" {AUDITOR} reads; history is INSERT-only for everyone"
    )


def statements_text(statements: Sequence[str]) -> list[str]:
    """The statements as a SQL script, one per line."""
    return [f"{statement};" for statement in statements]


def _apply(store: object, statements: Sequence[str]) -> None:
    from sqlalchemy.exc import DBAPIError

    from workflow.access.identity import session_user
    from workflow.errors import InvalidInput, PermissionDenied
    from workflow.store.db import Store

    assert isinstance(store, Store)
    if store.dialect != "postgresql":
        raise InvalidInput(
            "database roles exist only on PostgreSQL; a SQLite file is protected by its"
            " file permissions (chmod 600 and one office per file)"
        )
    login = session_user(store) or "?"
    try:
        with store.write() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise PermissionDenied(login, "apply the grants", None, reason) from None
