"""How long operations report how far they are: one optional callback, nothing else.

Core functions (the sweep, bulk transitions, the import, verifying and exporting the
history) take ``progress: ProgressCallback | None`` and call it with the number of items
done so far and the total when they know it. They never print and never ask whether a
terminal is attached: the CLI decides how to show it (a bar on a terminal, plain lines in a
log, nothing with ``--quiet``; see :mod:`workflow.cli.progress`).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int | None], None]
"""``progress(done, total)``: ``done`` items so far; ``total`` when known, else ``None``."""
