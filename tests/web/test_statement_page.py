"""Consultation statements from the browser: a coordinator works the consultation through to its
close without the CLI; nobody else is offered the form or gets through its route."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from web_fixtures import login

from workflow import Runtime
from workflow.app.reads import history_rows, show_detail
from workflow.web import reads


def test_a_coordinator_records_the_statements_and_can_then_close_the_consultation(
    app: Flask, runtime: Runtime
) -> None:
    # given RK-03-03 in the consultation, whose close needs a statement of each group
    b = login(app, "koordination")
    page = b.client.get("/proposals/RK-03-03").get_data(as_text=True)
    assert "/proposals/RK-03-03/statements" in page

    def close_allowed() -> bool:
        options = reads.triggers(runtime, "RK-03-03", "koordination", datetime.now(UTC))
        return bool(next(o for o in options if o["trigger"] == "close_consultation")["can_fire"])

    assert not close_allowed()
    # when it records one statement per group through the form
    for group, party in (
        ("kommune", "Stadt Essen"),
        ("ihk", "IHK zu Essen"),
        ("hwk", "Handwerkskammer Dortmund"),
        ("verband", "Regionalverband Ruhr"),
    ):
        done = b.post(
            "/proposals/RK-03-03/statements",
            {"party": party, "group": group, "position": "concerns", "text": "Kosten prüfen"},
        )
        assert done.status_code == 303  # type: ignore[attr-defined]
    # then they are on the proposal, in its history, and the consultation may close
    statements = show_detail(runtime, "RK-03-03")["statements"]
    assert {s["group"] for s in statements} == {"kommune", "ihk", "hwk", "verband"}
    assert history_rows(runtime, "RK-03-03")[-1]["trigger"] == "record_statement"
    assert close_allowed()
    assert "Stadt Essen (Kommune): Bedenken" in b.client.get("/proposals/RK-03-03").get_data(
        as_text=True
    )


def test_a_ministry_is_neither_offered_nor_allowed_to_record_a_statement(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "im")
    assert "/statements" not in b.client.get("/proposals/RK-03-03").get_data(as_text=True)
    assert b.client.get("/proposals/RK-03-03/statements").status_code == 403
    refused = b.post("/proposals/RK-03-03/statements", {"party": "Stadt Essen", "group": "kommune"})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert show_detail(runtime, "RK-03-03")["statements"] == []


def test_outside_the_consultation_no_form_is_offered_and_the_engine_refuses(
    app: Flask, runtime: Runtime
) -> None:
    b = login(app, "koordination")
    assert "/statements" not in b.client.get("/proposals/RK-03-02").get_data(as_text=True)
    refused = b.post(
        "/proposals/RK-03-02/statements", {"party": "Stadt Bochum", "group": "kommune"}
    )
    text = refused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "statements are recorded in the states" in text
    assert show_detail(runtime, "RK-03-02")["statements"] == []


def test_a_statement_without_its_party_is_refused(app: Flask, runtime: Runtime) -> None:
    b = login(app, "koordination")
    refused = b.post("/proposals/RK-03-03/statements", {"party": " ", "group": "kommune"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert show_detail(runtime, "RK-03-03")["statements"] == []
