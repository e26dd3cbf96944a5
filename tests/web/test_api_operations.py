"""The API's operations for ``ruhrflow --server``: bulk advance, statements, funding, tokens.

Each runs the engine call the CLI runs, as the token's account, in one transaction: the same
permissions and guards, an answer per proposal, one error shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from web_fixtures import PASSWORD

from workflow import Runtime
from workflow.access import accounts
from workflow.app.reads import history_rows, list_rows


def bearer(runtime: Runtime, actor: str) -> dict[str, str]:
    _, token = accounts.create_token(runtime.store, actor, datetime.now(UTC), expires_in=None)
    return {"Authorization": f"Bearer {token}"}


def states(runtime: Runtime) -> dict[str, str]:
    return {r["key"]: r["state"] for r in list_rows(runtime)}


def post(client: FlaskClient, path: str, headers: dict[str, str], body: Any) -> Any:
    return client.post(path, headers=headers, json=body)


def test_bulk_advance_by_state_answers_per_proposal(app: Flask, runtime: Runtime) -> None:
    # given three proposals in state proposed, one of them with its funding secured
    client = app.test_client()
    coord = bearer(runtime, "koordination")
    body = {"trigger": "admit", "where": {"state": "proposed"},
            "fields": {"decision_date": "2019-11-05"}}  # fmt: skip
    before = states(runtime)
    # when all or nothing is asked: refused as a whole (409), nothing changed
    refused = post(client, "/api/advance", coord, body)
    assert refused.status_code == 409 and "financing_secured" in refused.get_json()["error"]
    assert states(runtime) == before
    # when previewed with partial: an answer per proposal, and still nothing changed
    preview = post(client, "/api/advance", coord, {**body, "partial": True, "dry_run": True})
    assert preview.status_code == 200
    data = preview.get_json()
    assert data["dry_run"] is True
    assert [a["key"] for a in data["applied"]] == ["RK-05-01"]
    assert {r["key"] for r in data["refused"]} == {"RK-05-02", "RK-05-03"}
    assert states(runtime) == before
    # when applied with partial: the one that can go goes, as the token's account
    done = post(client, "/api/advance", coord, {**body, "partial": True})
    assert done.status_code == 200 and "dry_run" not in done.get_json()
    assert done.get_json()["applied"] == data["applied"]
    assert states(runtime)["RK-05-01"] == data["applied"][0]["to_state"]
    assert history_rows(runtime, "RK-05-01")[-1]["actor"] == "koordination"


def test_bulk_advance_by_keys_is_all_or_nothing(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    coord = bearer(runtime, "koordination")
    before = states(runtime)
    # one unknown key among known ones: 404, and nothing moved
    body = {"trigger": "open_consultation", "keys": ["RK-05-02", "RK-99-99"]}
    response = post(client, "/api/advance", coord, body)
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "unknown proposal 'RK-99-99'",
        "message": "Diesen Vorschlag gibt es nicht.",
    }
    assert states(runtime) == before
    # partial: the unknown key is answered, the known one moves
    response = post(client, "/api/advance", coord, {**body, "partial": True})
    assert response.status_code == 200
    assert response.get_json()["refused"] == [
        {"key": "RK-99-99", "reason": "unknown proposal 'RK-99-99'"}
    ]
    assert states(runtime)["RK-05-02"] == "consultation"


def test_bulk_advance_has_the_clis_permissions(app: Flask, runtime: Runtime) -> None:
    # a ministry may not open a consultation: 403, one line, nothing written
    client = app.test_client()
    response = post(client, "/api/advance", bearer(runtime, "im"),
                    {"trigger": "open_consultation", "keys": ["RK-05-02"]})  # fmt: skip
    assert response.status_code == 403
    assert response.get_json()["error"].startswith("im may not open_consultation on RK-05-02")
    assert states(runtime)["RK-05-02"] == "proposed"


def test_a_malformed_bulk_request_is_a_400(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    coord = bearer(runtime, "koordination")
    for body in (
        {"trigger": "submit"},  # neither keys nor where
        {"trigger": "submit", "keys": ["RK-05-01"], "where": {"state": "idea"}},  # both
        {"trigger": "submit", "where": {"state": "idea", "lead": "IM"}},
        {"trigger": "submit", "keys": "RK-05-01"},
        {"trigger": "submit", "keys": [1]},
        {"trigger": "", "keys": ["RK-05-01"]},
        {"trigger": "submit", "keys": ["RK-05-01"], "partial": "yes"},
        {"trigger": "submit", "keys": ["RK-05-01"], "fields": []},
        ["submit"],
    ):
        response = post(client, "/api/advance", coord, body)
        assert response.status_code == 400, body
        assert set(response.get_json()) == {"error", "message"}


def test_statements_and_funding_as_the_token_account(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    coord = bearer(runtime, "koordination")
    # when the coordination office records a statement and a funding line
    statement = post(client, "/api/proposals/RK-03-03/statements", coord,
                     {"party": "HWK Dortmund", "group": "hwk", "position": "support"})  # fmt: skip
    funding = post(client, "/api/proposals/RK-03-03/funding", coord,
                   {"source": "eu", "amount": "12000.5", "year": 2021})  # fmt: skip
    # then both are recorded, each with its history entry
    assert statement.status_code == 201 and funding.status_code == 201
    entries = history_rows(runtime, "RK-03-03")
    assert statement.get_json()["seq"] == entries[-2]["seq"]
    assert funding.get_json() == {
        "key": "RK-03-03",
        "seq": entries[-1]["seq"],
        "source": "eu",
        "amount": "12000.50",
        "year": 2021,
        "status": "planned",
    }
    assert {e["actor"] for e in entries[-2:]} == {"koordination"}
    # and a ministry may not record a statement (the engine's rule), nor a bad value pass
    im = bearer(runtime, "im")
    refused = post(client, "/api/proposals/RK-03-03/statements", im,
                   {"party": "X", "group": "hwk", "position": "support"})  # fmt: skip
    assert refused.status_code == 403
    bad = post(client, "/api/proposals/RK-03-03/funding", coord,
               {"source": "eu", "amount": "viel", "year": 2021})  # fmt: skip
    assert bad.status_code == 422
    typed = post(client, "/api/proposals/RK-03-03/funding", coord,
                 {"source": "eu", "amount": 5, "year": "2021"})  # fmt: skip
    assert typed.status_code == 400 and typed.get_json() == {
        "error": "amount must be a string of euros (2500000.00)",
        "message": "Die Anfrage war ungültig.",
    }
    assert len(history_rows(runtime, "RK-03-03")) == len(entries)


def test_a_token_for_account_and_password(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    # a right password: a token that works, shown once
    response = client.post("/api/tokens", json={"account": "vm", "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["account"] == "vm" and data["expires_at"].endswith("Z")
    headers = {"Authorization": f"Bearer {data['token']}"}
    assert client.get("/api/proposals/RK-03-01", headers=headers).status_code == 200
    # a wrong one: 401, no token; and the throttle answers 429 after repeated failures
    statuses = [
        client.post("/api/tokens", json={"account": "vm", "password": "falsch"}).status_code
        for _ in range(12)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert client.post("/api/tokens", json={"account": "vm"}).status_code == 400


def test_triggers_check_as_if_fields_were_given(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    coord = bearer(runtime, "koordination")
    plain = client.get("/api/proposals/RK-03-01/triggers", headers=coord).get_json()
    given = client.get(
        "/api/proposals/RK-03-01/triggers?set=decision_date=2019-11-05", headers=coord
    ).get_json()

    def approve(options: list[dict[str, Any]]) -> list[str]:
        found = next(o for o in options if o["trigger"] == "approve")
        return list(found["blocked_by"])

    assert any("decision_date" in reason for reason in approve(plain))
    assert not any("decision_date" in reason for reason in approve(given))
    bad = client.get("/api/proposals/RK-03-01/triggers?set=nothing", headers=coord)
    assert bad.status_code == 422
