"""The browser of the web tests (Debian's chromium through Playwright), and a loopback server.

Skipped without /usr/bin/chromium — except in CI (``CI`` set), where that fails the run.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from web_fixtures import PASSWORD
from werkzeug.serving import make_server

from workflow.access.directory import ROLES

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = os.environ.get("RUHRFLOW_WEB_SCREENSHOTS")  # a directory: keep a screenshot per page
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One chromium for the whole session (never `playwright install`: it would download)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI", pytrace=False)
        pytest.skip(f"browser tests skipped: {CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


# Developer text that a German user must never meet (issue 27): the engine's English refusals
# (guard and role texts, "may not", unknown keys), raw trigger and rung ids, notice kinds, and
# a server error's trace. Matched against the visible text of every HTML page a browser test
# is served, not against attributes (a form's hidden trigger id is no text a user reads).
_ROLE = "|".join((*ROLES, "lead_ministry"))
DEVELOPER_TEXT = re.compile(
    r"\bguard [a-z_]+:"
    rf"|\bneeds (?:{_ROLE})\b"
    rf"|\bis (?:{_ROLE})\b"
    r"|\brole: "
    r"|\bmay not\b"
    r"|\bunknown (?:proposal|trigger|state|field)\b"
    r"|\bno statement yet\b"
    r"|\b[a-z_]+\.(?:remind|escalate)-\d+[a-z]*\b"
    r"|\bstatus_change\b"
    r"|Traceback \(most recent call last\)"
)
_HIDDEN = re.compile(r"<(script|style|template)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def visible_text(html: str) -> str:
    """The text of an HTML page as a reader meets it: no tags, attributes, scripts or styles."""
    return " ".join(_TAG.sub(" ", _HIDDEN.sub(" ", html)).split())


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served in a thread on loopback (a free port): its base URL.

    Every HTML page it serves meanwhile is read for developer text (``DEVELOPER_TEXT``); the
    test fails at the end, naming the page and the words, when a page showed any.
    """
    found: list[str] = []

    def read(response: Response) -> Response:
        if response.mimetype == "text/html" and not response.is_streamed:
            from flask import request

            text = visible_text(response.get_data(as_text=True))
            found.extend(f"{request.path}: {m.group(0)!r}" for m in DEVELOPER_TEXT.finditer(text))
        return response

    app.after_request(read)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
    assert not found, "developer text on pages a user sees: " + "; ".join(found)


def accessible(page: Any, name: str) -> None:
    """Zero axe-core violations on the current page (and a screenshot when ``SHOTS`` names a
    folder: what a reader of the page sees)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def log_in(
    page: Any, actor: str, password: str = PASSWORD, *, check_login_page: bool = False
) -> None:
    """Log ``actor`` in through the login form (axe on the form when asked)."""
    page.goto("/login")
    if check_login_page:
        accessible(page, "login")
    page.get_by_label("Benutzername").fill(actor)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_load_state()
