"""``ruhrflow config check [PATH]``: the configuration checked as every command loads it.

An administrator changes ``ruhrflow.toml`` and wants to know before a restart whether the
application will start with it: this runs the same load as ``serve`` or ``scheduler run``
(the one schema of workflow/app/config_schema.py, paths resolved and checked), then reads
the files it names — the process definition, the directory — and checks the SSO mapping
against the directory, as ``serve`` does at start. It says so in one line: ``PATH: ok``
(exit 0) or ``error: …`` (exit 2). The database is not opened.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup


@click.group(cls=HelpGroup)
def config() -> None:
    """Check the configuration file."""


@config.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, path: Path | None) -> None:
    """Load PATH (default: --config, RUHRFLOW_CONFIG, else the shipped defaults) as every
    command would: ok (exit 0), or the first problem in one line (exit 2)."""
    from workflow.access.directory import load_directory
    from workflow.app.settings import load_settings
    from workflow.process.definition import load_definition

    given = path or obj(ctx).config_path or os.environ.get("RUHRFLOW_CONFIG") or None
    settings = load_settings(given, database_url=obj(ctx).db_url)
    load_definition(settings.definition_path)
    directory = load_directory(settings.directory_path)
    if settings.section("web").get("oidc") is not None:
        from workflow.web.oidc import load_config

        load_config(settings, directory)
    click.echo(f"{given or 'the shipped configuration'}: ok")
