"""``ruhrflow init``."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.cli.context import obj


@click.command()
@click.option(
    "--definition",
    "definition_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Process definition to register (default: the configured one).",
)
@click.option(
    "--import",
    "import_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import proposals from this CSV afterwards (needs --as).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what init would do (migrations, installation id, definition) and change nothing.",
)
@click.pass_context
def init(
    ctx: click.Context, definition_path: Path | None, import_path: Path | None, dry_run: bool
) -> None:
    """Create or upgrade the schema and register the definition version (idempotent).

    Back up first (README: Upgrading); on PostgreSQL run `ruhrflow db grants --apply` after.
    """
    from workflow.app.bootstrap import initialise
    from workflow.process.definition import load_definition

    c = obj(ctx)
    c.schema_check = False  # it creates or upgrades the schema
    definition = load_definition(definition_path or c.settings.definition_path)
    runtime = c.runtime
    if dry_run:
        from workflow.app.status import init_plan

        plan = init_plan(runtime.store, definition)
        click.echo("init --dry-run: nothing is changed; init would:")
        for step in plan.lines():
            click.echo(f"  {step}")
        if import_path is not None:
            click.echo(f"  import the proposals of {import_path}")
        return
    result = initialise(runtime.store, definition, c.now)
    url = runtime.store.engine.url.render_as_string(hide_password=True)
    if result.schema_before == result.schema_after:
        click.echo(f"schema of {url} is up to date ({result.schema_after})")
    else:
        click.echo(f"schema of {url}: {result.schema_before or 'empty'} → {result.schema_after}")
    click.echo(f"installation id {result.installation_id} (Message-IDs and calendar UIDs)")
    state = "registered" if result.definition_registered else "already registered"
    click.echo(f"definition {definition.name} version {definition.version} {state}")
    if import_path is not None:
        from workflow.cli.proposals import run_import

        run_import(ctx, import_path, skip_invalid=False)
