"""The baseline of ``web_load``: a bare Flask route that returns a fixed page.

Served by gunicorn exactly as ``ruhrflow serve`` serves the application, so the ratio of the
two says what ruhrflow's pages add to the web stack itself. The page is about as large as a
page of the proposal list.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)
PAGE = (
    "<!doctype html><html lang='de'><head><title>Vorschläge</title></head><body><table>"
    + "".join(f"<tr><td>RK-03-{i:02d}</td><td>Vorschlag {i}</td></tr>" for i in range(50))
    + "</table></body></html>"
)


@app.get("/")
def page() -> str:
    """The fixed page."""
    return PAGE
