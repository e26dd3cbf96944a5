"""``ruhrflow publish``: the public board as a static site, with open data and its proof."""

from __future__ import annotations

from pathlib import Path

import click

from workflow.cli.context import obj

DEFAULT_BASE_URL = "https://ruhrflow.example/board/"  # a placeholder until set


@click.command()
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the site into (created if missing; files are replaced).",
)
@click.option(
    "--as-of",
    "as_of_text",
    metavar="DATE",
    default=None,
    help="Sachstand at the end of DATE (YYYY-MM-DD, Europe/Berlin); default: today.",
)
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="Where the site will be hosted: the download URLs of the DCAT-AP.de catalog.",
)
@click.pass_context
def publish(ctx: click.Context, output: Path, as_of_text: str | None, base_url: str) -> None:
    """Write the public board: index.html, a page per decided project, fields.html,
    proposals.csv, proposals.json and catalog.ttl (DCAT-AP.de).

    Records an audit checkpoint over the chain heads as of the cut-off and prints its
    digest (also on the board and in the catalog): `audit verify --checkpoint DIGEST`
    proves the published figures come from an unaltered history.
    """
    from workflow.audit.asof import parse_as_of
    from workflow.errors import InvalidInput
    from workflow.process.vocabulary import BERLIN
    from workflow.publish import publish as write_board

    c = obj(ctx)
    day = parse_as_of(as_of_text, c.now) if as_of_text else c.now.astimezone(BERLIN).date()
    if not base_url.startswith(("https://", "http://")) or any(ch in base_url for ch in ' <>"'):
        raise InvalidInput(f"--base-url: {base_url!r} is not an http(s) URL")
    actor = c.require_actor()
    rt = c.runtime
    result = write_board(
        rt.store,
        rt.directory,
        output,
        as_of=day,
        now=c.now,
        actor_id=actor,
        audit_key=rt.settings.audit_key,
        base_url=base_url,
    )
    counts = ", ".join(f"{n} {g}" for g, n in result.counts.items())
    click.echo(f"published the Sachstand {day:%d.%m.%Y} to {result.output}: {counts}")
    click.echo(f"{len(result.files)} files; checkpoint {result.digest}")
