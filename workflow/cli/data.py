"""``ruhrflow data path``: where the files that came with ruhrflow are.

A wheel carries the 2019 proposals, the process definition and the default configuration
inside the package (see :mod:`workflow.app.resources`); this prints their paths, so that a
fresh directory can import or copy them without a clone of the repository::

    ruhrflow --as koordination proposal import "$(ruhrflow data path)"
"""

from __future__ import annotations

import click

from workflow.cli.groups import HelpGroup

SHIPPED = {
    "proposals": ("definitions", "data/ruhr_konferenz_2019.csv"),
    "definition": ("definitions", "ruhr_konferenz.yaml"),
    "config": ("config", "ruhrflow.toml"),
}


@click.group(cls=HelpGroup)
def data() -> None:
    """The files shipped with ruhrflow: the 2019 proposals, the definition, the config."""


@data.command("path")
@click.argument("name", type=click.Choice(sorted(SHIPPED)), default="proposals")
def path(name: str) -> None:
    """Print the path of a shipped file (default: the 2019 proposals, a CSV).

    \b
    proposals   the 75 proposals of 2019 (definitions/data/ruhr_konferenz_2019.csv)
    definition  the Ruhr-Konferenz process (definitions/ruhr_konferenz.yaml)
    config      every default setting, with comments (config/ruhrflow.toml)
    """
    from workflow.app.resources import shipped_file
    from workflow.errors import InvalidConfig

    directory, filename = SHIPPED[name]
    try:
        found = shipped_file(directory, filename)
    except FileNotFoundError as exc:
        raise InvalidConfig(str(exc)) from None
    if not found.is_file():
        raise InvalidConfig(f"the shipped file {directory}/{filename} is missing")
    click.echo(str(found))
