"""Funding lines from the browser (issue 14: "Ministries: … funding entries"): the lead ministry
and the coordinators get the form, everybody else neither the link nor the route, and what is
recorded is what ``ruhrflow funding add`` records."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.app.reads import history_rows, show_detail


def test_the_lead_ministry_records_funding_in_german_notation(app: Flask, runtime: Runtime) -> None:
    # given the IM, lead of RK-03-02, on its page
    b = login(app, "im")
    page = b.client.get("/proposals/RK-03-02").get_data(as_text=True)
    assert "/proposals/RK-03-02/funding" in page
    before = len(history_rows(runtime, "RK-03-02"))
    # when it records 250.000,50 EUR of EU money for 2021, secured
    done = b.post(
        "/proposals/RK-03-02/funding",
        {"source": "eu", "amount": "250.000,50", "year": "2021", "secured": "1"},
    )
    # then it is on the proposal and in its history, by the IM
    assert done.status_code == 303  # type: ignore[attr-defined]
    lines = show_detail(runtime, "RK-03-02")["funding"]
    added = [f for f in lines if f["source"] == "eu"]
    assert len(added) == 1
    assert Decimal(str(added[0]["amount"])) == Decimal("250000.50")
    assert added[0]["status"] == "secured" and added[0]["year"] == 2021
    history = history_rows(runtime, "RK-03-02")
    assert len(history) == before + 1 and history[-1]["trigger"] == "add_funding"
    assert "Europäische Union" in b.client.get("/proposals/RK-03-02").get_data(as_text=True)


def test_another_ministry_and_the_auditor_are_neither_offered_nor_allowed(
    app: Flask, runtime: Runtime
) -> None:
    before = show_detail(runtime, "RK-03-02")["funding"]
    for actor in ("vm", "pruefung"):
        b = login(app, actor)
        page = b.client.get("/proposals/RK-03-02").get_data(as_text=True)
        assert "/proposals/RK-03-02/funding" not in page
        assert b.client.get("/proposals/RK-03-02/funding").status_code == 403
        refused = b.post(
            "/proposals/RK-03-02/funding", {"source": "land", "amount": "1000", "year": "2021"}
        )
        assert refused.status_code == 403  # type: ignore[attr-defined]
    assert show_detail(runtime, "RK-03-02")["funding"] == before


def test_a_bad_amount_or_year_is_refused_with_its_reason_and_nothing_written(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    before = show_detail(runtime, "RK-03-02")["funding"]
    for form, words in (
        ({"source": "land", "amount": "viel", "year": "2021"}, "amount"),
        ({"source": "land", "amount": "-5", "year": "2021"}, "positive"),
        ({"source": "land", "amount": "1000", "year": "1999"}, "2000 und 2100"),
        ({"source": "mond", "amount": "1000", "year": "2021"}, "Quelle"),
    ):
        response = b.post("/proposals/RK-03-02/funding", form)
        text = response.get_data(as_text=True)  # type: ignore[attr-defined]
        assert response.status_code in (400, 422), (form, response.status_code)  # type: ignore[attr-defined]
        assert words in text and 'role="alert"' in text, form
    assert show_detail(runtime, "RK-03-02")["funding"] == before


def test_funding_without_the_csrf_token_is_refused(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    before = show_detail(runtime, "RK-03-02")["funding"]
    response = b.client.post(
        "/proposals/RK-03-02/funding", data={"source": "land", "amount": "1000", "year": "2021"}
    )
    assert response.status_code == 400
    assert show_detail(runtime, "RK-03-02")["funding"] == before


def test_german_amounts_mean_what_a_german_reader_means(app: Flask, runtime: Runtime) -> None:
    # "250.000" in a German form is a quarter of a million, not 250 euros
    from workflow.web.proposals.actions import euros as _euros

    assert _euros("250.000") == "250000"
    assert _euros("1.250.000,50 €") == "1250000.50"
    assert _euros("250000") == "250000" and _euros("1250.5") == "1250.5"
    b = login(app, "im")
    b.post("/proposals/RK-03-02/funding", {"source": "bund", "amount": "250.000", "year": "2022"})
    (line,) = [f for f in show_detail(runtime, "RK-03-02")["funding"] if f["year"] == 2022]
    assert Decimal(str(line["amount"])) == Decimal("250000")
