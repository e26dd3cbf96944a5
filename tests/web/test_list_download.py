"""The list's CSV download is the CLI's ``--excel`` (#27.7): UTF-8 with a byte order mark, ``;``
between cells, a decimal comma, formulas neutralised — with German column names."""

from __future__ import annotations

import pytest
from flask import Flask
from support import Cli
from web_fixtures import login

from workflow.app.listing import PROPOSAL_FIELDS

GERMAN_HEADER = ";".join(f.german for f in PROPOSAL_FIELDS if f.machine)


def test_the_csv_is_the_clis_excel_csv_with_german_column_names(
    app: Flask, database_url: str
) -> None:
    b = login(app, "koordination")
    response = b.client.get("/proposals?format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=vorschlaege.csv"
    body = response.get_data(as_text=True)
    # the byte order mark German Excel needs, then German column names separated by ';'
    assert body.startswith("\ufeff" + GERMAN_HEADER + "\n")
    assert body.split("\n")[0].startswith("\ufeffKennung;Status;Handlungsfeld;Themenforum;")
    # and row for row what `ruhrflow proposal list --format csv --excel` writes
    cli = Cli(database_url)("proposal", "list", "--format", "csv", "--excel", actor=None).stdout
    assert cli.startswith("\ufeffkey;state;")
    assert body.split("\n")[1:] == cli.split("\n")[1:]
    # amounts with a decimal comma
    assert any(";500000,00;" in line for line in body.split("\n")), body


def test_the_filters_apply_to_the_download(app: Flask) -> None:
    b = login(app, "koordination")
    lines = b.client.get("/proposals?format=csv&lead=VM").get_data(as_text=True).splitlines()
    assert [line.split(";")[0] for line in lines[1:]] == ["RK-03-01", "RK-03-04"]


def _stream_with_context_of_flask_3_1_1(gen):  # type: ignore[no-untyped-def]
    """Flask 3.1.0/3.1.1's ``stream_with_context`` (Flask ≥ 3.1 is allowed): it pushed the
    request context before the first row, so the request's teardown — and the end of the
    page's shared read — came only after the stream."""
    from flask.globals import _cv_request

    gen = iter(gen)

    def generator():  # type: ignore[no-untyped-def]
        ctx = _cv_request.get(None)
        with ctx:
            yield None
            try:
                yield from gen
            finally:
                if hasattr(gen, "close"):
                    gen.close()

    wrapped = generator()
    next(wrapped)
    return wrapped


def test_the_download_streams_inside_the_pages_shared_read_too(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given Flask 3.1.1's stream_with_context: the rows are read on the page's shared read
    # (on PostgreSQL in autocommit), whose server-side cursor needs a transaction of its own
    import workflow.web.proposals.lists as lists

    monkeypatch.setattr(lists, "stream_with_context", _stream_with_context_of_flask_3_1_1)
    b = login(app, "koordination")
    response = b.client.get("/proposals?format=csv")
    lines = response.get_data(as_text=True).splitlines()
    assert response.status_code == 200
    assert [line.split(";")[0] for line in lines[1:3]] == ["RK-03-01", "RK-03-02"], lines[:3]
