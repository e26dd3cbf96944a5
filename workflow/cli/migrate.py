"""``ruhrflow migrate plan|apply``: move running proposals to another definition version."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from workflow.app.machine import rfc3339
from workflow.cli.context import CliContext, obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_rows, local_time

if TYPE_CHECKING:
    from workflow.engine.migration import MigrationItem, MigrationPlan

PLAN_COLUMNS = [
    ("key", "KEY"),
    ("from", "FROM"),
    ("change", "STATE → TARGET"),
    ("closes", "CLOSES"),
    ("opens", "OPENS"),
    ("move", "MOVE"),
]


@click.group(cls=HelpGroup)
def migrate() -> None:
    """Move running proposals to another definition version (plan first, then apply)."""


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options ``plan`` and ``apply`` share."""
    for decorator in reversed(
        [
            click.argument("keys", nargs=-1, metavar="[KEY…]"),
            click.option("--to", "to_version", type=int, required=True, metavar="VERSION",
                         help="The definition version to move to (registered with init)."),
            click.option("--map", "maps", multiple=True, metavar="OLD=NEW",
                         help="Map a state to another one (same ids map to themselves)."),
            click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                         help="A field the target states require."),
            click.option("--where", metavar="state=S", help="Only the proposals in state S."),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


def _engine_options(
    c: CliContext,
    keys: tuple[str, ...],
    to_version: int,
    maps: tuple[str, ...],
    assignments: tuple[str, ...],
    where: str | None,
) -> dict[str, Any]:
    from workflow.engine.migration import parse_state_map
    from workflow.process.fields import parse_assignments

    state = None
    if where is not None:
        name, sep, state = where.partition("=")
        if name.strip() != "state" or not sep or not state.strip():
            raise click.BadParameter("expected state=S", param_hint="--where")
        if keys:
            raise click.UsageError("give either KEY… or --where, not both")
        state = state.strip()
    return {
        "to_version": to_version,
        "state_map": parse_state_map(maps),
        "raw_fields": parse_assignments(assignments),
        "keys": list(dict.fromkeys(keys)) or None,
        "where_state": state,
        "deadline_setting": c.settings.section("process"),
    }


def _row(item: MigrationItem) -> dict[str, Any]:
    opens = [f"{d.kind} {local_time(d.due_at)[:10]}" if d.due_at else d.kind for d in item.opens]
    return {
        "key": item.key,
        "from": f"v{item.from_version}",
        "change": f"{item.from_state} → {item.to_state}",
        "closes": ", ".join(item.closes) or "—",
        "opens": ", ".join(opens) or "—",
        "move": "yes" if item.can_move else "no: " + "; ".join(item.reasons),
    }


@migrate.command("plan")
@_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")  # fmt: skip
@click.pass_context
def plan(
    ctx: click.Context,
    keys: tuple[str, ...],
    to_version: int,
    maps: tuple[str, ...],
    assignments: tuple[str, ...],
    where: str | None,
    fmt: str,
) -> None:
    """The dry run: what moving KEY… (or --where state=S, or every proposal not on VERSION)
    to VERSION would do to each proposal. Writes nothing.

    \b
    ruhrflow migrate plan --to 3 --map cabinet=kabinett --set decision_date=2019-11-05
    """
    c = obj(ctx)
    options = _engine_options(c, keys, to_version, maps, assignments, where)
    # A chunk of proposals at a time: JSON is written as it comes, so a plan of 100,000
    # proposals holds one chunk (a table needs its column widths, so it collects rows).
    with c.runtime.engine.migration_plan_chunks(now=c.now, **options) as (head, chunks):
        if fmt == "json":
            _stream_json(head, chunks)
            return
        rows: list[dict[str, Any]] = []
        movable = 0
        for chunk in chunks:
            rows += [_row(item) for item in chunk]
            movable += sum(1 for item in chunk if item.can_move)
    emit_rows(rows, PLAN_COLUMNS, "table")
    click.echo(
        f"{len(rows)} proposal(s) to version {head.to_version}: {movable} can move,"
        f" {len(rows) - movable} cannot"
    )


def _stream_json(head: MigrationPlan, chunks: Iterable[list[MigrationItem]]) -> None:
    """``{"to_version", "to_hash", "proposals": [...]}``, one proposal per line."""
    click.echo(f'{{"to_version": {head.to_version}, "to_hash": "{head.to_hash}", "proposals": [')
    separator = "  "
    for chunk in chunks:
        for item in chunk:
            doc = item.as_dict()
            for opening in doc["opens"]:  # times as every JSON document gives them
                opening["due_at"] = rfc3339(opening["due_at"])
            click.echo(separator + json.dumps(doc, ensure_ascii=False))
            separator = ", "
    click.echo("]}")


@migrate.command("apply")
@_options
@click.option("--comment", help="Why (kept in each proposal's history).")
@click.option("--partial", is_flag=True,
              help="Move what can move, list the rest (default: all or nothing).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")  # fmt: skip
@click.pass_context
def apply(
    ctx: click.Context,
    keys: tuple[str, ...],
    to_version: int,
    maps: tuple[str, ...],
    assignments: tuple[str, ...],
    where: str | None,
    comment: str | None,
    partial: bool,
    fmt: str,
) -> None:
    """Move the proposals of the plan to VERSION in one transaction (coordinators only)."""
    c = obj(ctx)
    options = _engine_options(c, keys, to_version, maps, assignments, where)
    actor = c.require_actor()
    result, done = c.runtime.engine.migrate(
        actor=actor, now=c.now, partial=partial, comment=comment, **options
    )
    if not done.planned and options["where_state"] is not None:
        from workflow.errors import InvalidInput

        raise InvalidInput(
            f"no proposal in state {options['where_state']!r} to migrate to version {to_version}"
        )
    if fmt == "json":
        emit_json(
            {
                "to_version": result.to_version,
                "applied": [
                    {"key": m.key, "from_state": m.from_state, "to_state": m.to_state,
                     "seq": m.seq}
                    for m in done.moved
                ],
                "refused": [{"key": k, "reason": str(e)} for k, e in done.refused],
            }
        )  # fmt: skip
    else:
        shown = done.moved if len(done.moved) <= 20 else done.moved[:10]
        for m in shown:
            click.echo(f"{m.key}: {m.from_state} → {m.to_state} (version {result.to_version})")
        if len(done.moved) > len(shown):
            click.echo(f"… and {len(done.moved) - len(shown)} more")
        click.echo(f"migrated {len(done.moved)} to version {result.to_version},"
                   f" refused {len(done.refused)}")  # fmt: skip
        for key, exc in done.refused:
            click.echo(f"refused {key}: {exc}", err=True)
    if done.refused:
        ctx.exit(1)
