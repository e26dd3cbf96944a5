"""The fixed words of the process, defined once: time zone, statement groups and positions,
funding sources.

Imports nothing but the standard library, so the CLI can offer these as choices without
loading the engine.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
"""Where the Ruhr-Konferenz works: times are stored in UTC and shown here."""

STATEMENT_GROUPS = ("kommune", "ihk", "hwk", "verband", "townhall", "buerger")
STATEMENT_POSITIONS = ("support", "concerns", "oppose", "neutral")
FUNDING_SOURCES = ("land", "bund", "eu", "stiftung", "sonstige")
