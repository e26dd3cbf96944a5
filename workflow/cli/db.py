"""``ruhrflow db grants`` and ``ruhrflow db logins``: the PostgreSQL roles and rights.

Three group roles (NOLOGIN); every person or functional account logs in as its own
database user and is made a member of one of them:

- ``ruhrflow_writer`` — coordinators, forum leads, ministry staff, the scheduler:
  read and write the process tables, read the definitions and ``logins``, add actor
  refs and pseudonymise them (a trigger refuses any other change: re-attributing a ref
  would change history without touching a hash);
- ``ruhrflow_auditor`` — reads every table; adds checkpoint entries to ``@system``
  (row-level security admits no other history row from it) and its own actor ref;
- ``ruhrflow_admin`` — a writer that also manages ``logins`` (who a login is, who may
  act as others, set the clock, run the scheduler; see :mod:`workflow.access.logins`) and the
  only one to touch the web application's tables (``web_*``: accounts, token digests, the
  session secret) — run ``ruhrflow serve`` as such a login.

History is INSERT-only for everyone: no UPDATE, DELETE or TRUNCATE on ``history``
for the group roles, PUBLIC or the table owner (a superuser still can — see
docs/threat-model.md). The statements are idempotent: run ``ruhrflow db grants
--apply`` again after every migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_table, format_option, local_time

WRITER = "ruhrflow_writer"
AUDITOR = "ruhrflow_auditor"
ADMIN = "ruhrflow_admin"
# Rows never change once written: SELECT and INSERT for writers, nothing else for anyone.
APPEND_ONLY = ("history",)
# Writers read and add, and pseudonymise (the columns below; a trigger of migration 0006
# refuses every other change): changing the actor behind a ref re-attributes history.
INSERT_ONLY_FOR_WRITERS = ("actor_refs",)
# An erasure also deletes the salt of the ref's commitment (workflow/store/attribution.py).
PSEUDONYMISE_COLUMNS = "actor_id, pseudonymised_at, salt"
# Written only by the database owner (``ruhrflow init``: migrations, definition versions,
# the installation id behind every Message-ID and calendar UID), and ``logins`` only by the
# administrators.
READ_ONLY_FOR_WRITERS = ("definitions", "alembic_version", "installation", "logins")
ADMIN_ONLY = ("logins",)
# The web application's accounts, token digests, login throttle and session secret: a
# writer who could read or change them could log in to the web application as anybody
# (or forge its session cookie). Only administrators (the web application's login is one:
# it acts for its logged-in accounts) touch them; writers and auditors not even read them.
WEB_PREFIX = "web_"
# What the auditor may add: its checkpoints (workflow/audit/checkpoint.py), the record of its
# verifications (``audit verify --record``, workflow/audit/verify.py) and its ref.
AUDITOR_HISTORY_CHECK = "chain = '@system' AND kind IN ('checkpoint', 'verification')"
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
    roles = f"{WRITER}, {AUDITOR}, {ADMIN}"
    s = _ident(schema)
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(r)})"
        f" THEN CREATE ROLE {r} NOLOGIN; END IF; END $$"
        for r in (WRITER, AUDITOR, ADMIN)
    ]
    out += [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC, {roles}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC, {roles}",
        f"GRANT USAGE ON SCHEMA {s} TO {roles}",
        f"GRANT {WRITER} TO {ADMIN}",  # an administrator writes as a writer does
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {AUDITOR}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {WRITER}, {AUDITOR}",
    ]
    for name in names:
        table = f"{s}.{_ident(name)}"
        if name.startswith(WEB_PREFIX):
            out.append(f"REVOKE ALL ON {table} FROM {AUDITOR}")
            out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ADMIN}")
            continue
        if name in APPEND_ONLY or name in INSERT_ONLY_FOR_WRITERS:
            privileges = "SELECT, INSERT"
        elif name in READ_ONLY_FOR_WRITERS:
            privileges = "SELECT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        out.append(f"GRANT {privileges} ON {table} TO {WRITER}")
    for name in INSERT_ONLY_FOR_WRITERS:
        table = f"{s}.{_ident(name)}"
        out.append(f"GRANT UPDATE ({PSEUDONYMISE_COLUMNS}) ON {table} TO {WRITER}")
        out.append(f"GRANT INSERT ON {table} TO {AUDITOR}")
    for name in ADMIN_ONLY:
        out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.{_ident(name)} TO {ADMIN}")
    # History rows: every ruhrflow role reads them, writers add them, the auditor adds
    # only its checkpoints and verifications (row-level security; the owner and
    # superusers bypass it).
    history_table = f"{s}.{_ident('history')}"
    out += [
        f"GRANT INSERT ON {history_table} TO {AUDITOR}",
        f"ALTER TABLE {history_table} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS ruhrflow_read ON {history_table}",
        f"CREATE POLICY ruhrflow_read ON {history_table} FOR SELECT USING (true)",
        f"DROP POLICY IF EXISTS ruhrflow_write ON {history_table}",
        f"CREATE POLICY ruhrflow_write ON {history_table} FOR INSERT TO {WRITER} WITH CHECK (true)",
        f"DROP POLICY IF EXISTS ruhrflow_checkpoint ON {history_table}",
        f"CREATE POLICY ruhrflow_checkpoint ON {history_table} FOR INSERT TO {AUDITOR}"
        f" WITH CHECK ({AUDITOR_HISTORY_CHECK})",
    ]
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
        "-- a directory actor by an administrator: `ruhrflow db logins add LOGIN ACTOR`",
        "-- (the table logins; db_user in directory.toml does not count on PostgreSQL).",
        "-- Create the logins with a password of your choice, for example:",
    ]
    for actor_id, role, db_user in actors:
        group = GROUP_OF_ROLE.get(role)
        if group is not None:
            login = db_user or actor_id
            lines.append(
                f"--   CREATE ROLE {_ident(login)} LOGIN IN ROLE {group};"
                f"  -- then: ruhrflow db logins add {login} {actor_id}"
                + ("  --scheduler" if role == "system" else "")
            )
    lines.append(f"--   GRANT {ADMIN} TO <login>;  -- manages logins, may act as anyone")
    return lines


@click.group(cls=HelpGroup)
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
        f" {AUDITOR} reads and adds checkpoints, {ADMIN} also manages logins;"
        " history is INSERT-only for everyone"
    )


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
