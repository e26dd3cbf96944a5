"""``ruhrflow consult record`` and ``ruhrflow funding add``."""

from __future__ import annotations

import click

from workflow.cli.context import obj
from workflow.cli.groups import HelpGroup
from workflow.cli.output import german_amount
from workflow.cli.params import DigitRange
from workflow.process.vocabulary import FUNDING_SOURCES as SOURCES
from workflow.process.vocabulary import STATEMENT_GROUPS as GROUPS
from workflow.process.vocabulary import STATEMENT_POSITIONS as POSITIONS


@click.group(cls=HelpGroup)
def consult() -> None:
    """Record consultation statements (Kommunen, Kammern, Verbände, Townhalls)."""


@consult.command("record")
@click.argument("key")
@click.option("--party", required=True, help="Who gave the statement (e.g. Stadt Essen).")
@click.option("--group", "group", type=click.Choice(GROUPS), required=True)
@click.option("--position", type=click.Choice(POSITIONS), required=True)
@click.option("--text", default="", help="The statement or its gist.")
@click.pass_context
def record(ctx: click.Context, key: str, party: str, group: str, position: str, text: str) -> None:
    """Record a statement on proposal KEY."""
    done = obj(ctx).backend.record_statement(
        key, party=party, group=group, position=position, text=text
    )
    click.echo(f"{key}: statement of {party} ({group}, {position}) recorded as #{done['seq']}")


@click.group(cls=HelpGroup)
def funding() -> None:
    """Record planned and secured funding."""


@funding.command("add")
@click.argument("key")
@click.option("--source", type=click.Choice(SOURCES), required=True)
@click.option("--amount", required=True, metavar="EUR", help="Amount in euros.")
@click.option("--year", type=DigitRange(2000, 2100), required=True)
@click.option("--secured", is_flag=True, help="The money is secured (default: planned).")
@click.pass_context
def add(ctx: click.Context, key: str, source: str, amount: str, year: int, secured: bool) -> None:
    """Add a funding line to proposal KEY."""
    done = obj(ctx).backend.add_funding(
        key, source=source, amount=amount, year=year, secured=secured
    )
    shown = german_amount(done["amount"])
    click.echo(f"{key}: {shown} {source} {year} ({done['status']}) recorded as #{done['seq']}")
