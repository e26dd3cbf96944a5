"""Showing a long operation's progress on stderr: a bar on a terminal, lines otherwise.

The core reports through a plain callback (:data:`workflow.progress.ProgressCallback`);
:class:`Progress` turns those calls into click's progress bar when stderr is a terminal,
into a plain line every few seconds when it is a file or a pipe (a log), and into nothing
with ``--quiet``. Nothing is shown before the operation has run for a moment, so a quick
command — and the one ``error:`` line of a refused one — stays as it was. Standard output
stays the command's result alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def progress_option(func: F) -> F:
    """``-q/--quiet``: no progress on stderr (the result is printed all the same)."""
    return click.option(
        "-q", "--quiet", is_flag=True, help="Show no progress on stderr, only the result."
    )(func)


class Progress:
    """The progress of one operation, shown on ``stream`` (default: stderr)."""

    def __init__(
        self,
        label: str,
        *,
        unit: str = "items",
        quiet: bool = False,
        stream: TextIO | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        delay: float = 0.5,
        interval: float = 5.0,
    ) -> None:
        """``delay``: seconds before a bar appears; ``interval``: seconds between lines."""
        self.label = label
        self.unit = unit
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.delay = delay
        self.interval = interval
        self._started = clock()
        self._next_line = self._started + interval
        self._bar: Any = None
        self._lines = 0
        self._counting = False
        self._last: tuple[int, int | None] | None = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=kind is None)

    @property
    def callback(self) -> Callable[[int, int | None], None] | None:
        """What to hand to the core: ``update``, or ``None`` when quiet (no work at all)."""
        return None if self.quiet else self.update

    def update(self, done: int, total: int | None = None) -> None:
        """The core's callback: ``done`` of ``total`` (``None``: unknown)."""
        if self.quiet:
            return
        self._last = (done, total)
        now = self.clock()
        if self.tty:
            if self._bar is not None or now - self._started >= self.delay:
                self._tty_update(done, total)
        elif now >= self._next_line:
            self._next_line = now + self.interval
            self._line(self._status(done, total))

    def _status(self, done: int, total: int | None) -> str:
        if total:
            return f"{self.label}: {done:,} of {total:,} {self.unit} ({done * 100 // total}%)"
        return f"{self.label}: {done:,} {self.unit}"

    def note(self, text: str) -> None:
        """A line of its own (the demo's story), unless quiet."""
        if self.quiet:
            return
        if self._bar is not None:
            self.stream.write("\n")
        self._line(text)

    def close(self, *, ok: bool = True) -> None:
        """End the bar (a terminal gets its line back)."""
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None
        elif self.tty and self._counting:
            self.stream.write("\n")  # after the counter that \r kept rewriting
            self.stream.flush()
        elif ok and self._lines and self._last is not None:
            self._line(self._status(*self._last) + ", done")  # a log shows the end too
        self._last = None

    def _tty_update(self, done: int, total: int | None) -> None:
        if total:
            if self._bar is None:
                self._bar = click.progressbar(
                    length=total, label=self.label, file=self.stream, show_pos=True
                )
                self._bar.render_progress()
            step = min(done, total) - self._bar.pos
            if step > 0:
                self._bar.update(step)
        else:
            self._counting = True
            self.stream.write(f"\r{self.label}: {done:,} {self.unit}")
            self.stream.flush()

    def _line(self, text: str) -> None:
        self._lines += 1
        self.stream.write(text + "\n")
        self.stream.flush()
