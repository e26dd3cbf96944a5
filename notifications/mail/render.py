"""Render notices from Jinja2 templates: subject, plain text and HTML per kind."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from notifications.mail.formatting import datum, datumzeit, euro, wert
from notifications.mail.grouping import group_changes
from notifications.mail.model import Letter, RenderedNotice
from notifications.mail.sanitize import one_line
from notifications.mail.wrap import wrap_plain

KINDS: tuple[str, ...] = (
    "status_change",
    "reminder",
    "escalation",
    "consultation_opened",
    "digest",
    "deadline_moved",
)
"""The notice kinds the package ships templates for."""


class Renderer:
    """Renders the notice kinds in :data:`KINDS`.

    Each kind ``K`` has three templates, ``K.subject.txt``, ``K.txt`` and ``K.html``. Templates in
    ``override_dir`` (trusted configuration) win over the templates shipped with the package, file
    by file. Context values are data: Jinja never evaluates them as template code, and the HTML
    templates escape them.
    """

    def __init__(
        self,
        override_dir: Path | None = None,
        base_url: str | None = None,
        letter: Letter | None = None,
    ) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(override_dir))
        loaders.append(jinja2.PackageLoader("notifications", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters.update(
            datum=datum, datumzeit=datumzeit, euro=euro, wert=wert, gruppiert=group_changes
        )
        # ``[web] base_url``: the mails link to the proposal's page in the web application.
        self._env.globals["base_url"] = (base_url or "").rstrip("/")
        letter = letter or Letter()
        # Globals, not context: the letter is configuration, applied when a notice is rendered.
        self._env.globals.update(
            signature_lines=letter.signature.strip().splitlines(), footer=letter.footer.strip()
        )

    def render(self, kind: str, context: Mapping[str, Any]) -> RenderedNotice:
        """Render the notice ``kind`` with ``context``.

        Raises ``ValueError`` for an unknown kind and ``jinja2.UndefinedError`` when the context
        lacks a value a template uses. The subject is reduced to one line; the plain text is
        wrapped to 78 characters a line (:mod:`notifications.mail.wrap`).
        """
        values = dict(context)
        subject = self.subject(kind, values)
        text = wrap_plain(self._env.get_template(f"{kind}.txt").render(values))
        html = self._env.get_template(f"{kind}.html").render(values)
        return RenderedNotice(subject=subject, text=text, html=html)

    def subject(self, kind: str, context: Mapping[str, Any]) -> str:
        """Only the subject of the notice ``kind`` (one line); errors as :meth:`render`."""
        if kind not in KINDS:
            raise ValueError(f"unknown notice kind {kind!r}; known kinds: {', '.join(KINDS)}")
        return one_line(self._env.get_template(f"{kind}.subject.txt").render(context))


@lru_cache(maxsize=8)
def renderer_for(
    override_dir: Path | None = None, base_url: str | None = None, letter: Letter | None = None
) -> Renderer:
    """One :class:`Renderer` per template directory for the whole process.

    Building one compiles the templates anew on first use (about 50 ms for all kinds); the
    delivery worker, which renders on every pass, shares this one. Jinja still reloads a
    template whose file changed.
    """
    return Renderer(override_dir, base_url, letter)
