"""The proposals' blueprint, a module of its own: the route modules register on it, and the
package's ``__init__`` imports them (no module imports the package that imports it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("proposals", __name__)
