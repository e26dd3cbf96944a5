"""The state every request of one application shares: built once by ``create_app``, found
by the views and the API through :func:`web` (a module of its own, so that the views import
it without importing the application that imports them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

from workflow.app.runtime import Runtime
from workflow.app.settings import Settings
from workflow.process.definition import Definition

if TYPE_CHECKING:
    from workflow.web.oidc import OidcLogin


@dataclass
class Web:
    """What the views need, built once per process: the runtime, the definition, the clock."""

    settings: Settings
    runtime: Runtime
    definition: Definition
    clock: Callable[[], datetime]
    base_url: str | None
    public_dir: Path | None = None  # what ``ruhrflow publish --output`` wrote: ``/public/``
    oidc: OidcLogin | None = None  # the state SSO, when ``[web.oidc]`` is configured
    sample_data: str | None = None  # a database of sample data says so on every page
    # what pages render the same for every request of this process (the list's filter
    # choices, by filter and chosen value: proposals/lists.py; the link of a proposal
    # without its key, by application root: pages.py)
    fixed_html: dict[tuple[str, object], Any] = field(default_factory=dict)

    def now(self) -> datetime:
        """The wall clock (the web has no ``--now``)."""
        return self.clock()


def web() -> Web:
    """The Web of the current application."""
    found = current_app.extensions["ruhrflow"]
    assert isinstance(found, Web)
    return found
