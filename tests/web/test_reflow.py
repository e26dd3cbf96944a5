"""Reflow (WCAG 2.1 SC 1.4.10, required by BITV 2.0): every page type of the application and
of the published board at 320 and 390 CSS px, without scrolling the page sideways.

axe does not test this; the browser does: at each width, after the page has loaded, the
document may be no wider than the viewport. A wide table may scroll inside its own focusable
region (the page does not).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import serving
from click.testing import CliRunner
from conftest import NOW
from flask import Flask
from support import add_proposal, walk_to
from web_fixtures import PASSWORD

from workflow.app.runtime import Runtime
from workflow.cli.main import cli

WIDTHS = (320, 390)
LONG_TITLE = (
    "Klimaresilienzmodellregionenförderprogrammkoordinierungsstelle: Grüne Infrastruktur,"
    " Schwammstadt und Hitzeschutz in den Quartieren des Ruhrgebiets (Testdaten)"
)
SHOTS = os.environ.get("RUHRFLOW_WEB_SCREENSHOTS")  # a directory: keep a screenshot per page
# (who, the pages of each type that person reaches)
PAGES: list[tuple[str | None, list[str]]] = [
    (None, ["/login"]),
    ("koordination", [
        "/", "/proposals/new", "/proposals/import", "/proposals/RK-03-05/edit",
        "/worklist", "/proposals", "/proposals/RK-03-01", "/proposals/RK-03-03",
        "/proposals/RK-03-01/actions/approve", "/proposals/RK-05-01/funding",
        "/proposals/RK-03-03/statements", "/proposals/RK-03-01/documents", "/bulk",
        "/proposals/RK-99-99",
    ]),
    ("im", ["/", "/proposals?lead=IM", "/proposals/RK-03-02"]),
    ("forum-03", ["/", "/proposals/new", "/proposals?themenforum=3"]),
    ("pruefung", ["/", "/audit"]),
]  # fmt: skip


def _width(page: Any) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")  # type: ignore[no-any-return]


def _too_wide(page: Any) -> list[str]:
    """The elements that reach past the viewport's right edge (for the failure message)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                    && !e.closest('.scroll'))
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                      + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')"""
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_of_the_application_fits_the_width(browser: Any, app: Flask, width: int) -> None:
    problems = []
    with serving(app) as url:
        for actor, paths in PAGES:
            context = browser.new_context(
                base_url=url, locale="de-DE", viewport={"width": width, "height": 800}
            )
            page = context.new_page()
            try:
                if actor is not None:
                    page.goto("/login")
                    page.get_by_label("Benutzername").fill(actor)
                    page.get_by_label("Passwort").fill(PASSWORD)
                    page.get_by_role("button", name="Anmelden").click()
                    page.wait_for_load_state()
                for path in paths:
                    page.goto(path)
                    if SHOTS:
                        name = f"{width}-{actor}-{path.strip('/').replace('/', '_')}"
                        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
                    scroll, inner = _width(page)
                    if scroll > inner:
                        problems.append(f"{actor or 'anonymous'} {path}: {scroll} px"
                                        f" ({', '.join(_too_wide(page))})")  # fmt: skip
            finally:
                context.close()
    assert not problems, f"wider than {width} px:\n" + "\n".join(problems)


def _published_board(runtime: Runtime, database_url: str, tmp_path: Path) -> Path:
    """The board of the web round plus a decided project whose title holds a long German
    compound, as real titles do; its directory."""
    key = add_proposal(runtime.engine, NOW, key="RK-04-09", title=LONG_TITLE, lead="MULNV")
    walk_to(runtime.engine, key, "implementation", NOW)
    site = tmp_path / "site"
    done = CliRunner().invoke(
        cli, ["--db", database_url, "--as", "koordination", "publish", "--output", str(site)],
        env={"RUHRFLOW_ACTOR": None},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return site


@pytest.mark.parametrize("width", WIDTHS)
def test_the_published_board_fits_the_width(
    browser: Any, app: Flask, runtime: Runtime, database_url: str, tmp_path: Path, width: int
) -> None:
    site = _published_board(runtime, database_url, tmp_path)
    pages = [site / "index.html", site / "fields.html", *sorted(site.glob("projekt-*.html"))[:3]]
    assert len(pages) > 2, sorted(p.name for p in site.rglob("*.html"))
    context = browser.new_context(locale="de-DE", viewport={"width": width, "height": 800})
    page = context.new_page()
    problems = []
    try:
        for path in pages:
            page.goto(path.as_uri())
            scroll, inner = _width(page)
            if scroll > inner:
                problems.append(f"{path.name}: {scroll} px ({', '.join(_too_wide(page))})")
    finally:
        context.close()
    assert not problems, f"wider than {width} px:\n" + "\n".join(problems)


def test_the_boards_project_table_fits_a_1366_px_screen(
    browser: Any, app: Flask, runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    site = _published_board(runtime, database_url, tmp_path)
    context = browser.new_context(locale="de-DE", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        page.goto((site / "index.html").as_uri())
        sizes = page.evaluate(
            "() => [...document.querySelectorAll('.scroll')].map(e => [e.scrollWidth,"
            " e.clientWidth])"
        )
    finally:
        context.close()
    assert sizes and all(scroll <= client for scroll, client in sizes), sizes
