"""Render notices from Jinja2 templates: subject, plain text and HTML per kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

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

FILTERS: tuple[str, ...] = ("datum", "datumzeit", "euro", "wert")
"""The formatting filters the shipped templates use, which the caller passes in: a date, a
date and time, an amount, any value (this library formats no language of its own)."""


class Renderer:
    """Renders the notice kinds in :data:`KINDS`.

    Each kind ``K`` has three templates, ``K.subject.txt``, ``K.txt`` and ``K.html``. Templates in
    ``override_dir`` (trusted configuration) win over the templates shipped with the package, file
    by file. Context values are data: Jinja never evaluates them as template code, and the HTML
    templates escape them. ``formatting`` maps each name of :data:`FILTERS` to its function
    (more names become filters too); a missing one is a ``ValueError``.
    """

    def __init__(
        self,
        override_dir: Path | None = None,
        base_url: str | None = None,
        letter: Letter | None = None,
        *,
        formatting: Mapping[str, Callable[..., str]],
    ) -> None:
        missing = [name for name in FILTERS if name not in formatting]
        if missing:
            raise ValueError(f"formatting lacks the filters {', '.join(missing)}")
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
        datum = formatting["datum"]
        self._env.filters.update(formatting)
        self._env.filters["gruppiert"] = lambda changes: group_changes(changes, datum)
        # ``[web] base_url``: the mails link to the proposal's page in the web application.
        self._env.globals["base_url"] = (base_url or "").rstrip("/")
        letter = letter or Letter()
        # Globals, not context: the letter is configuration, applied when a notice is rendered.
        self._env.globals.update(
            signature_lines=letter.signature.strip().splitlines(), footer=letter.footer.strip()
        )

    def stop_reloading(self) -> None:
        """From now on, a template once read is not checked for changes on disk again.

        By default Jinja looks at every template file (a ``stat``, includes and bases too)
        each time a template is used, so that an edited override takes effect; a run that
        changes no template (the demo's three thousand mails) can leave that out.
        """
        self._env.auto_reload = False

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
