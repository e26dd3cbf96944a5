"""The ruhrflow web application (issue #14): ``create_app(settings)`` for any WSGI server.

Vendored: ``static/htmx-2.0.4.min.js`` is htmx.org 2.0.4 from the npm registry
(``package/dist/htmx.min.js``), sha256
e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from workflow.web.app import create_app

        return create_app
    raise AttributeError(name)
