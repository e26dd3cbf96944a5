"""The mail renderer with ruhrflow's German formatting (the one place that builds one)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from notifications.mail.model import Letter
from notifications.mail.render import Renderer
from workflow.process.german import FILTERS


@lru_cache(maxsize=8)
def renderer_for(
    override_dir: Path | None = None, base_url: str | None = None, letter: Letter | None = None
) -> Renderer:
    """One :class:`~notifications.mail.render.Renderer` per template directory, web address
    and letter for the whole process, formatting with :data:`workflow.process.german.FILTERS`.

    Building one compiles the templates anew on first use (about 50 ms for all kinds); the
    delivery worker, which renders on every pass, shares this one. Jinja still reloads a
    template whose file changed.
    """
    return Renderer(override_dir, base_url, letter, formatting=FILTERS)
