"""The bulk preview (issue 28.5): every proposal in the state with what the trigger would do
to it — the same rows and the same German reasons as the proposal's own options — read in one
engine dry run (one transaction) instead of one options check per row, agreeing with the bulk
advance that follows."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
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


def test_the_preview_is_one_engine_dry_run_in_one_transaction(
    app: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event

    # given a logged-in coordinator, the engine's calls and the transactions counted
    b = login(app, "koordination")
    engine = app.extensions["ruhrflow"].runtime.engine
    calls: list[str] = []
    begun: list[str] = []
    during: list[int] = []
    preview_many = engine.preview_many

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("preview_many")
        before = len(begun)
        try:
            return preview_many(*args, **kwargs)
        finally:
            during.append(len(begun) - before)

    monkeypatch.setattr(engine, "preview_many", counted)
    monkeypatch.setattr(engine, "triggers", lambda *a, **k: calls.append("triggers"))
    monkeypatch.setattr(engine, "advance_many", lambda *a, **k: calls.append("advance_many"))
    event.listen(runtime.store.engine, "begin", lambda conn: begun.append("begin"))
    # when the preview of the proposals in a state is shown
    preview = b.post("/bulk", {"step": "preview", **FORM})
    assert preview.status_code == 200
    rows = len(_shown(preview.get_data(as_text=True)))
    # then the engine was asked once, for all the rows, in one transaction; the request took
    # three on both backends whatever the number of rows: the session's account check (a POST
    # reads on its own), the list of the proposals in the state, and the dry run
    assert rows > 2
    assert calls == ["preview_many"] and during == [1]
    assert len(begun) == 3


def test_the_preview_and_the_bulk_advance_agree(app: Flask, runtime: Runtime) -> None:
    # given proposals in a state, some of which a guard blocks (their funding is not secured)
    b = login(app, "koordination")
    shown = _shown(b.post("/bulk", {"step": "preview", **FORM}).get_data(as_text=True))
    would = {key for key, said in shown.items() if said == "wird ausgeführt"}
    assert would and would != set(shown)
    assert all("Voraussetzung" in shown[key] for key in set(shown) - would)
    # when the coordinator applies the action to all of them, as far as possible
    done = b.client.post(
        "/bulk",
        data={"csrf_token": b.csrf, "step": "apply", "mode": "partial", "keys": list(shown),
              **FORM},
    )  # fmt: skip
    assert done.status_code == 200
    # then exactly the proposals the preview said would be advanced were, and nothing else
    left = {r["key"] for r in list_rows(runtime, state="proposed")}
    assert set(shown) - left == would
