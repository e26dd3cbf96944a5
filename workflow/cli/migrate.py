"""``ruhrflow migrate plan|apply``: move running proposals to another definition version."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import emit_json, emit_rows, local_time

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


def _selection(
    keys: tuple[str, ...],
    to_version: int,
    maps: tuple[str, ...],
    assignments: tuple[str, ...],
    where: str | None,
) -> dict[str, Any]:
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
        "maps": list(maps),
        "fields": parse_assignments(assignments),
        "keys": list(keys),
        "where_state": state,
    }


def _row(item: dict[str, Any]) -> dict[str, Any]:
    opens = [
        f"{d['kind']} {local_time(d['due_at'])[:10]}" if d["due_at"] else d["kind"]
        for d in item["opens"]
    ]
    return {
        "key": item["key"],
        "from": f"v{item['from_version']}",
        "change": f"{item['from_state']} → {item['to_state']}",
        "closes": ", ".join(item["closes"]) or "—",
        "opens": ", ".join(opens) or "—",
        "move": "yes" if item["can_move"] else "no: " + "; ".join(item["reasons"]),
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
    selection = _selection(keys, to_version, maps, assignments, where)
    # On the database a chunk of proposals at a time: JSON is written as it comes, so a plan
    # of 100,000 proposals holds one chunk (a table needs its column widths: it collects rows).
    with obj(ctx).backend.migration_plan(**selection) as (head, items):
        if fmt == "json":
            _stream_json(head, items)
            return
        rows: list[dict[str, Any]] = []
        movable = 0
        for item in items:
            rows.append(_row(item))
            movable += bool(item["can_move"])
    emit_rows(rows, PLAN_COLUMNS, "table")
    click.echo(
        f"{len(rows)} proposal(s) to version {head['to_version']}: {movable} can move,"
        f" {len(rows) - movable} cannot"
    )


def _stream_json(head: dict[str, Any], items: Iterable[dict[str, Any]]) -> None:
    """``{"to_version", "to_hash", "proposals": [...]}``, one proposal per line."""
    click.echo(
        f'{{"to_version": {head["to_version"]}, "to_hash": "{head["to_hash"]}", "proposals": ['
    )
    separator = "  "
    for item in items:
        click.echo(separator + json.dumps(item, ensure_ascii=False))
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
    selection = _selection(keys, to_version, maps, assignments, where)
    result = obj(ctx).backend.migrate(partial=partial, comment=comment, **selection)
    moved, refused, version = result["applied"], result["refused"], result["to_version"]
    if fmt == "json":
        emit_json(result)
    else:
        shown = moved if len(moved) <= 20 else moved[:10]
        for m in shown:
            click.echo(f"{m['key']}: {m['from_state']} → {m['to_state']} (version {version})")
        if len(moved) > len(shown):
            click.echo(f"… and {len(moved) - len(shown)} more")
        click.echo(f"migrated {len(moved)} to version {version}, refused {len(refused)}")
        for r in refused:
            click.echo(f"refused {r['key']}: {r['reason']}", err=True)
    if refused:
        ctx.exit(1)
