"""Click parameter types that follow ruhrflow's input policy (:mod:`workflow.inputs`)."""

from __future__ import annotations

from typing import Any

import click


class DigitRange(click.IntRange):
    """``click.IntRange``, but only the ASCII digits 0-9 make a number.

    Python's ``int`` also reads Arabic-Indic (``٣``) or full-width (``３``) digits; a
    Themenforum or a year typed that way is a mistake to point out, not to guess.
    """

    name = "integer range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip().lstrip("+-").isascii():
            self.fail(f"{value!r} is not a whole number (digits 0-9)", param, ctx)
        return super().convert(value, param, ctx)
