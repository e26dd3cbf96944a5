"""``/public/``: the published board (``ruhrflow publish``), readable without a login.

The application serves the files that ``publish --output DIR`` wrote into ``[web] public_dir``,
byte for byte: the same board, the same open data and the same audit digest as the static
site, and no query of the staff database on the way (a visitor's request cannot record a
checkpoint or read anything the board does not show). Without ``public_dir`` the route is 404.

Only regular files that are not hidden (no part of the path begins with a dot: ``.git``,
``.env``) and whose real path lies inside ``public_dir`` are served: a symbolic link out of
the directory, or a directory itself, is 404 like a missing file.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from werkzeug.wrappers import Response

from workflow.web.state import web

bp = Blueprint("public", __name__, url_prefix="/public")

# The board carries its own inline <style> and no script at all: its pages get a policy of
# their own that allows exactly that.
PUBLIC_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
mimetypes.add_type("text/turtle", ".ttl")


@bp.get("/", defaults={"name": "index.html"})
@bp.get("/<path:name>")
def board(name: str) -> Response:
    """A file of the published board (``index.html`` for ``/public/``)."""
    folder = web().public_dir
    if folder is None or not _servable(folder, name):
        abort(404)
    response = send_from_directory(folder, name, max_age=300)
    response.headers["Content-Security-Policy"] = PUBLIC_CSP
    return response


def _servable(folder: Path, name: str) -> bool:
    """Whether ``name`` is a regular, non-hidden file whose real path lies inside ``folder``."""
    parts = Path(name).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    root = folder.resolve()
    try:
        real = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a loop of links
        return False
    return real.is_relative_to(root) and real.is_file()
