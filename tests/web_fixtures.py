"""Shared fixtures of the web tests: a small round of proposals, accounts, the app.

The app runs on the wall clock (the web has no ``--now``), so the round is built with the
wall clock too; only the consultation of RK-03-01 starts in 2019, so that its deadline has
passed and it can move on to the cabinet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from workflow import ProposalInput, Runtime, Settings
from workflow.access import accounts
from workflow.web import create_app

PASSWORD = "richtig-langes-passwort"
ACCOUNTS = ("koordination", "im", "vm", "forum-03", "pruefung")
NOW_2019 = datetime(2019, 7, 15, 8, 0, tzinfo=UTC)
XSS_TITLE = "<script>alert('x')</script> Radweg"


def _proposal(key: str, title: str, lead: str, cost: int | None) -> ProposalInput:
    return ProposalInput(
        key=key,
        title=title,
        handlungsfeld=int(key[3:5]) % 5 + 1,
        themenforum=int(key[3:5]),
        lead=lead,
        cost_estimate=Decimal(cost) if cost is not None else None,
    )


def build_round(runtime: Runtime) -> None:
    """RK-03-01 in the cabinet (VM), RK-03-02 in implementation (IM), RK-03-03 in the
    consultation (MSB, a title with markup), RK-03-04 in implementation (VM), RK-05-01..03
    proposed (RK-05-01 with its funding secured), RK-03-05 an idea in the Themenforum."""
    engine = runtime.engine
    now = datetime.now(UTC)
    items = [
        _proposal("RK-03-01", "Radschnellweg Ruhr", "VM", 1_000_000),
        _proposal("RK-03-02", "Digitale Verwaltung im Revier", "IM", 500_000),
        _proposal("RK-03-03", XSS_TITLE, "MSB", 20_000),
        _proposal("RK-03-04", "S-Bahn-Takt", "VM", 300_000),
        _proposal("RK-05-01", "Gründerzentrum Dortmund", "MWIDE", 100_000),
        _proposal("RK-05-02", "Kulturpfad Emscher", "MKW", 50_000),
        _proposal("RK-05-03", "Lernorte Gelsenkirchen", "MSB", 70_000),
        _proposal("RK-03-05", "Grüne Höfe Essen", "MULNV", None),
    ]
    engine.create_proposals(items[:1], actor="koordination", now=NOW_2019)
    engine.create_proposals(items[1:], actor="koordination", now=now)
    c = "koordination"
    engine.advance("RK-03-01", "submit", actor=c, now=NOW_2019)
    engine.advance("RK-03-01", "open_consultation", actor=c, now=NOW_2019)
    engine.advance("RK-03-01", "close_consultation", actor=c, now=now)
    engine.advance("RK-03-01", "submit_to_cabinet", actor=c, now=now)
    for key in ("RK-03-02", "RK-03-04"):
        engine.advance(key, "submit", actor=c, now=now)
        engine.add_funding(
            key, source="land", amount=Decimal(500_000), year=2020, secured=True, actor=c, now=now
        )
        engine.advance(key, "admit", actor=c, now=now, fields={"decision_date": "2019-11-05"})
        engine.advance(key, "start", actor=c, now=now)
    engine.advance("RK-03-03", "submit", actor=c, now=now)
    engine.advance("RK-03-03", "open_consultation", actor=c, now=now)
    for key in ("RK-05-01", "RK-05-02", "RK-05-03"):
        engine.advance(key, "submit", actor=c, now=now)
    engine.add_funding(
        "RK-05-01",
        source="land",
        amount=Decimal(100_000),
        year=2020,
        secured=True,
        actor=c,
        now=now,
    )


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with test-sized cost: the same code path, a fraction of the time."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def app(runtime: Runtime, settings: Settings, fast_hashes: None) -> Iterator[Flask]:
    """The web app on a fresh database with the round built and an account per role."""
    build_round(runtime)
    now = datetime.now(UTC)
    for actor in ACCOUNTS:
        accounts.set_password(runtime.store, runtime.directory, actor, PASSWORD, now)
    flask_app = create_app(settings, runtime=runtime)
    flask_app.config["TESTING"] = True
    yield flask_app


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf_token in the page"
    return m.group(1)


@dataclass
class Browser:
    """A test client that is logged in, with the CSRF token of its session."""

    client: FlaskClient
    csrf: str

    def post(self, path: str, data: dict[str, object]) -> object:
        return self.client.post(path, data={"csrf_token": self.csrf, **data})


def login(app: Flask, actor: str, password: str = PASSWORD) -> Browser:
    """A client logged in as ``actor``."""
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": actor, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get("/proposals").get_data(as_text=True)
    return Browser(client, csrf_of(page))
