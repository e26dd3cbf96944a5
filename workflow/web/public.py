"""``/public/``: the published board (``ruhrflow publish``), readable without a login.

The application serves the files that ``publish --output DIR`` wrote into ``[web] public_dir``,
byte for byte: the same board, the same open data and the same audit digest as the static
site, and no query of the staff database on the way (a visitor's request cannot record a
checkpoint or read anything the board does not show). Without ``public_dir`` the route is 404.
"""

from __future__ import annotations

import mimetypes

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
    if folder is None:
        abort(404)
    response = send_from_directory(folder, name, max_age=300)
    response.headers["Content-Security-Policy"] = PUBLIC_CSP
    return response
