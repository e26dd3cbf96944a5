"""Command groups whose help lists each command's whole first sentence.

click shortens a subcommand's help to what fits on one line (``Import proposals from a
UTF-8 CSV (all or nothing unless...``); the listing below wraps it instead, so that no
help text is cut off.
"""

from __future__ import annotations

import click

WHOLE_SENTENCE = 10_000  # characters: more than any first sentence


class HelpGroup(click.Group):
    """A ``click.Group`` that wraps its commands' short help instead of cutting it off."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=WHOLE_SENTENCE)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
