"""Documents over the API (#27.6) on SQLite and PostgreSQL: a PDF attached to a statement
downloads byte for byte, with its hash in the history; content decides the type."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

from flask import Flask

from workflow import Runtime
from workflow.access import accounts

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"


def bearer(runtime: Runtime, actor: str) -> dict[str, str]:
    _, token = accounts.create_token(runtime.store, actor, datetime.now(UTC), expires_in=None)
    return {"Authorization": f"Bearer {token}"}


def upload(client: object, key: str, content: bytes, name: str, headers: dict[str, str],
           **form: str) -> object:  # fmt: skip
    data = {"file": (io.BytesIO(content), name), **form}
    return client.post(  # type: ignore[attr-defined]
        f"/api/proposals/{key}/documents", data=data, headers=headers,
        content_type="multipart/form-data",
    )  # fmt: skip


def test_a_pdf_attached_to_a_statement_downloads_byte_for_byte(
    app: Flask, runtime: Runtime
) -> None:
    # Given a statement of the IHK on RK-03-03 (in the consultation)
    runtime.engine.record_statement("RK-03-03", party="IHK zu Essen", group="ihk",
                                    position="support", text="", actor="koordination",
                                    now=datetime.now(UTC))  # fmt: skip
    client = app.test_client()
    coordinator = bearer(runtime, "koordination")
    shown = client.get("/api/proposals/RK-03-03", headers=coordinator).get_json()
    statement = shown["statements"][-1]["id"]
    # when its Stellungnahme is attached as a PDF (named .bin: the content decides)
    done = upload(client, "RK-03-03", PDF, "../../Stellungnahme IHK.bin", coordinator,
                  statement=str(statement), comment="Stellungnahme der IHK")  # fmt: skip
    assert done.status_code == 201, done.get_data(as_text=True)  # type: ignore[attr-defined]
    body = done.get_json()  # type: ignore[attr-defined]
    sha = hashlib.sha256(PDF).hexdigest()
    assert body["sha256"] == sha and body["content_type"] == "application/pdf"
    assert body["filename"] == "Stellungnahme IHK.bin"
    # then it is listed, downloads byte for byte as an attachment, and its hash is history
    (listed,) = client.get("/api/proposals/RK-03-03/documents", headers=coordinator).get_json()
    assert listed["statement"] == statement and listed["entry"] == body["seq"]
    got = client.get(f"/api/proposals/RK-03-03/documents/{sha}", headers=coordinator)
    assert got.status_code == 200 and got.get_data() == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in got.headers["Content-Security-Policy"]
    history = client.get("/api/proposals/RK-03-03/history", headers=coordinator).get_json()
    entry = next(e for e in history if e["seq"] == body["seq"])
    assert entry["data"]["document"]["sha256"] == sha


def test_refusals_have_the_apis_one_error_shape(app: Flask, runtime: Runtime) -> None:
    client = app.test_client()
    coordinator = bearer(runtime, "koordination")
    html = upload(client, "RK-03-01", b"<html><script>alert(1)</script>", "x.pdf", coordinator)
    assert html.status_code == 422  # type: ignore[attr-defined]
    assert "not accepted" in html.get_json()["error"]  # type: ignore[attr-defined]
    missing = client.post("/api/proposals/RK-03-01/documents", headers=coordinator, data={})
    assert missing.status_code == 400 and set(missing.get_json()) == {"error", "message"}
    absent = client.get("/api/proposals/RK-03-01/documents/" + "0" * 64, headers=coordinator)
    assert absent.status_code == 404 and set(absent.get_json()) == {"error", "message"}
    other = upload(client, "RK-03-01", PDF, "a.pdf", bearer(runtime, "im"))
    assert other.status_code == 403  # type: ignore[attr-defined]  # VM leads RK-03-01
    anonymous = client.get("/api/proposals/RK-03-01/documents")
    assert anonymous.status_code == 401
    assert client.get("/api/proposals/RK-03-01/documents", headers=coordinator).get_json() == []


def test_a_coordinator_corrects_a_proposal_over_the_api(app: Flask, runtime: Runtime) -> None:
    # PATCH /api/proposals/<key> is `ruhrflow proposal edit` (#27.5)
    client = app.test_client()
    coordinator = bearer(runtime, "koordination")
    body = {"set": {"cost_estimate": "1250000.50", "participating": ["FM"]},
            "comment": "Korrektur (Test)"}  # fmt: skip
    done = client.patch("/api/proposals/RK-03-05", json=body, headers=coordinator)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["changes"] == {
        "cost_estimate": {"old": None, "new": "1250000.50"},
        "participating": {"old": [], "new": ["FM"]},
    }
    shown = client.get("/api/proposals/RK-03-05", headers=coordinator).get_json()
    assert shown["cost_estimate"] == "1250000.50"
    history = client.get("/api/proposals/RK-03-05/history", headers=coordinator).get_json()
    assert history[-1]["kind"] == "edit" and history[-1]["comment"] == "Korrektur (Test)"
    refused = client.patch("/api/proposals/RK-03-05", json=body, headers=bearer(runtime, "im"))
    assert refused.status_code == 403 and set(refused.get_json()) == {"error", "message"}
    same = client.patch("/api/proposals/RK-03-05", json=body, headers=coordinator)
    assert same.status_code == 422 and "nothing changes" in same.get_json()["error"]
    bad = client.patch("/api/proposals/RK-03-05", json={"set": "x"}, headers=coordinator)
    assert bad.status_code == 400
