"""``ruhrflow definition check|show``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.errors import Problem

if TYPE_CHECKING:
    from workflow.process.definition import Definition


@click.group(cls=HelpGroup)
def definition() -> None:
    """Check and draw process definitions."""


@definition.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate and lint FILE; list every problem (exit 1) or say it is clean (exit 0).

    A FILE that cannot be read is bad input (exit 2).
    """
    from workflow.errors import InvalidInput
    from workflow.process.definition import problems_of

    if not file.exists():
        raise InvalidInput(f"{file}: no such file")

    problems = problems_of(file) or _registration_problems(file)
    if len(problems) == 1 and problems[0].key == "(file)":  # a device, a binary: no definition
        raise InvalidInput(str(problems[0]))
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        click.echo(f"{file}: {len(problems)} problem(s)", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{file}: clean")
    _describe_format(file)


def _describe_format(file: Path) -> None:
    """Which format the clean FILE is read under, and what each newer format would add."""
    from workflow.process.definition import load_definition
    from workflow.process.formats import Resolved

    definition = load_definition(file)
    fmt = Resolved(definition.file_format, definition.format_declared)
    click.echo(f"{file}: {fmt.describe()}")
    for newer in fmt.newer():
        keys = ", ".join(k.path for k in newer.added)
        click.echo(f"  format {newer.number} (ruhrflow {newer.release}) would add: {keys}"
                   f" — {newer.summary}")  # fmt: skip


def _registration_problems(file: Path) -> list[Problem]:
    """What keeps a valid definition out of the database (a version beyond its column)."""
    from workflow.app.bootstrap import version_problem
    from workflow.process.definition import load_definition

    definition = load_definition(file)
    problem = version_problem(definition.version)
    if problem is None:
        return []
    lines = definition.source_text.splitlines()
    line = next((i for i, text in enumerate(lines, 1) if text.startswith("version:")), None)
    return [Problem(str(file), line, "version", problem)]


@definition.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "dot"]), default="text",
              show_default=True)  # fmt: skip
@click.pass_context
def show(ctx: click.Context, file: Path | None, fmt: str) -> None:
    """Draw the process of FILE (default: the configured definition)."""
    from workflow.process.definition import load_definition
    from workflow.process.diagram import render_dot, render_mermaid, render_text

    d = load_definition(file or obj(ctx).settings.definition_path)
    render = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}[fmt]
    click.echo(render(d))


def _definition_of(ctx: click.Context, which: str) -> Definition:
    """A registered version (a number) or a definition file."""
    from workflow.process.definition import load_definition, parse_definition

    if not (which.isascii() and which.isdigit()):  # "²" is a digit to isdigit
        return load_definition(which)
    from workflow.engine.migration import target_row

    with obj(ctx).runtime.store.read() as conn:
        row = target_row(conn, int(which))
    return parse_definition(row["source"], f"{row['name']} v{row['version']}")


@definition.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")  # fmt: skip
@click.pass_context
def diff(ctx: click.Context, old: str, new: str, fmt: str) -> None:
    """What changed from OLD to NEW (each a registered version number or a file): states,
    transitions, guards, fields, roles, deadlines and notices added, removed and changed."""
    from workflow.cli.output import emit_json, emit_rows
    from workflow.process.diff import diff_definitions

    a, b = _definition_of(ctx, old), _definition_of(ctx, new)
    changes = diff_definitions(a, b)
    if fmt == "json":
        emit_json(
            {
                "old": {"version": a.version, "hash": a.content_hash},
                "new": {"version": b.version, "hash": b.content_hash},
                "changes": [c.as_dict() for c in changes],
            }
        )
        return
    if not changes:
        click.echo(f"no difference between version {a.version} and version {b.version}")
        return
    columns = [("category", "WHAT"), ("item", "ITEM"), ("change", "CHANGE"),
               ("detail", "DETAIL")]  # fmt: skip
    emit_rows([c.as_dict() for c in changes], columns, "table")
