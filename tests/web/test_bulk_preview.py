"""The bulk preview (issue 28.5): every proposal in the state with what the trigger would do
to it — the same rows and the same German reasons as the proposal's own options — read in one
transaction on PostgreSQL instead of one per row."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from web_fixtures import login

from workflow.app.reads import list_rows
from workflow.app.runtime import Runtime
from workflow.web import reads
from workflow.web.state import Web

FORM = {"state": "proposed", "trigger": "admit", "field_decision_date": "2019-11-05"}


def _shown(html: str) -> dict[str, str]:
    """Each row of the preview: its key and what it says (``wird ausgeführt`` or the reasons)."""
    rows = re.findall(
        r'name="keys" value="([^"]+)">.*?</td><td>.*?</td>\s*<td>(.*?)</td>', html, re.S
    )
    return {key: unescape(said) for key, said in rows}


def test_the_preview_says_for_each_proposal_what_its_options_say(
    app: Flask, runtime: Runtime
) -> None:
    # given the proposals in the state, and what each one's options say of the trigger now
    state: Web = app.extensions["ruhrflow"]
    fields = {"decision_date": "2019-11-05"}
    expected = {}
    for r in list_rows(runtime, state="proposed"):
        option = next(
            o
            for o in reads.triggers(runtime, r["key"], "koordination", state.now(), fields, None)
            if o["trigger"] == "admit"
        )
        said = "; ".join(option["blocked_by_de"])
        expected[r["key"]] = "wird ausgeführt" if option["can_fire"] else f"wird abgelehnt: {said}"
    assert "wird ausgeführt" in expected.values() and len(set(expected.values())) > 1
    # when the coordinator previews the bulk action
    b = login(app, "koordination")
    preview = b.post("/bulk", {"step": "preview", **FORM})
    # then every proposal is shown once, with exactly that
    assert preview.status_code == 200
    assert _shown(preview.get_data(as_text=True)) == expected


def test_the_preview_reads_in_one_transaction_on_postgresql(app: Flask, runtime: Runtime) -> None:
    from sqlalchemy import event

    # given a logged-in coordinator and a count of the connections a request takes
    b = login(app, "koordination")
    checkouts: list[object] = []
    event.listen(runtime.store.engine, "checkout", lambda *args: checkouts.append(args[0]))
    # when the preview of the proposals in a state is shown
    preview = b.post("/bulk", {"step": "preview", **FORM})
    assert preview.status_code == 200
    rows = len(_shown(preview.get_data(as_text=True)))
    # then on PostgreSQL it took two connections, whatever the number of rows: the session's
    # account check (a POST reads on its own) and one read transaction for all the rows;
    # SQLite shares no transaction (Store.shared_read) and takes one per read
    assert rows > 2
    if runtime.store.dialect == "postgresql":
        assert len(checkouts) == 2
    else:
        assert len(checkouts) > rows
