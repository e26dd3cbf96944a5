"""The main job: ``ruhrflow demo`` plays the 2019 round end to end (SQLite, Maildir).

One full run (module-scoped: it takes a while) and checks against the figures the demo
claims: 75 proposals, Altschulden withdrawn, 74 approved, the 2024 outcome, the 60.8 Mio €
of 2020, mails of every kind in the Maildir, and a verified history.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import sqlite3
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from workflow.cli.main import cli
from workflow.demo.directory import DemoExists, prepare_directory
from workflow.demo.facts import END, FUNDS_2020, OUTCOMES, PUBLISHED, SAMPLE_DATA
from workflow.demo.samples import SAMPLE_SOURCE, SAMPLE_TITLE

# The demo plays five years in about a minute: run by `.ci/run` and `pytest -m slow`, not by
# a plain `pytest`.
pytestmark = pytest.mark.slow

SAMPLE_HTML = str(escape(SAMPLE_DATA))
KINDS = ("status_change", "reminder", "escalation", "consultation_opened", "digest")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("demo") / "ruhrflow-demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    (directory.parent / "stderr.txt").write_text(result.stderr, encoding="utf-8")
    return directory, result.stdout


def _json(directory: Path, *args: str) -> object:
    import json

    config = directory / "ruhrflow.toml"
    result = CliRunner().invoke(cli, ["--config", str(config), *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_round_ends_with_the_public_figures(demo_run: tuple[Path, str]) -> None:
    directory, _ = demo_run
    listed = _json(directory, "proposal", "list")
    assert isinstance(listed, list)
    rows = [r for r in listed if not r["title"].startswith(SAMPLE_TITLE)]
    states = Counter(r["state"] for r in rows)
    # 75 proposals, the Altschulden proposal withdrawn, 74 approved and carried on
    assert len(rows) == 75
    assert states["withdrawn"] == 1
    withdrawn = next(r for r in rows if r["state"] == "withdrawn")
    assert "Altschulden" in withdrawn["title"]
    assert {s: states[s] for s in OUTCOMES} == OUTCOMES  # 42 / 15 / 16 / 1 merged
    assert sum(OUTCOMES.values()) == 74


def test_the_history_reproduces_the_published_fortschrittsberichte(
    demo_run: tuple[Path, str],
) -> None:
    # Given the demo's history, when the status is reported as of each report's cut-off,
    # then every count the Fortschrittsbericht published is reproduced, of 73 decided
    # projects (74 approved; one went up in another project: illustrative).
    directory, _ = demo_run
    for day, published in PUBLISHED.items():
        doc = _json(directory, "report", "status", "--as-of", day.isoformat())
        assert isinstance(doc, dict)
        assert doc["as_of"] == day.isoformat()
        known = {group: n for group, n in published.items() if n is not None}
        assert {group: doc["groups"][group] for group in known} == known, day
        assert sum(doc["groups"].values()) == 73
        assert doc["outside"] == {"in Vorbereitung": 0, "nicht gezählt": 2}  # Altschulden, merged


def test_the_board_of_the_2021_report(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    import csv

    directory, _ = demo_run
    config = str(directory / "ruhrflow.toml")
    args = ["--config", config, "--as", "koordination", "publish", "--output", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--as-of", "2021-12-31"])
    assert result.exit_code == 0, result.output
    counts = "17 in Prüfung, 55 in Umsetzung, 1 abgeschlossen, 0 nicht weiterverfolgt"
    assert counts in result.stdout
    text = (tmp_path / "proposals.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert len(rows) == 73 and not any("Altschulden" in r["titel"] for r in rows)
    digest = result.stdout.split("checkpoint ")[-1].strip()
    verify = CliRunner().invoke(
        cli, ["--config", config, "audit", "verify", "--checkpoint", digest]
    )
    assert verify.exit_code == 0, verify.output
    # and, invented outcomes behind real titles, every page and the catalog say so
    for page in [tmp_path / "index.html", tmp_path / "fields.html", *tmp_path.glob("projekt-*")]:
        html = page.read_text(encoding="utf-8")
        assert f'<p class="sample" role="note"><strong>Hinweis:</strong> {SAMPLE_HTML}' in html
    assert SAMPLE_DATA.split(".")[0] in (tmp_path / "catalog.ttl").read_text(encoding="utf-8")


def test_the_web_application_on_the_demo_says_it_shows_sample_data(
    demo_run: tuple[Path, str],
) -> None:
    from workflow import load_settings
    from workflow.web import create_app

    directory, _ = demo_run
    app = create_app(load_settings(directory / "ruhrflow.toml", env={}))
    html = app.test_client().get("/login").get_data(as_text=True)
    assert f"<strong>Hinweis:</strong> {SAMPLE_HTML}" in html


def test_every_approved_proposal_was_approved_on_5_november_2019(
    demo_run: tuple[Path, str],
) -> None:
    directory, _ = demo_run
    entries = _json(directory, "audit", "log", "--trigger", "approve")
    assert isinstance(entries, list) and len(entries) == 74
    assert {e["data"]["fields"]["decision_date"] for e in entries} == {"2019-11-05"}
    # one bulk transition: a single moment for all 74
    assert len({e["at"] for e in entries}) == 1


def test_the_2020_funds_add_up_to_the_planned_total(demo_run: tuple[Path, str]) -> None:
    directory, stdout = demo_run
    with sqlite3.connect(directory / "ruhrflow.db") as conn:
        (total,) = conn.execute(
            "SELECT SUM(amount) FROM funding WHERE year = 2020 AND source = 'land'"
        ).fetchone()
    assert Decimal(str(total)) == FUNDS_2020 == 60_800_000
    assert "2020 Landesmittel: 60.800.000,00 €" in stdout


def test_the_maildir_holds_german_mails_of_every_kind(demo_run: tuple[Path, str]) -> None:
    directory, _ = demo_run
    box = mailbox.Maildir(directory / "mail", factory=None, create=False)
    kinds: Counter[str] = Counter()
    samples: dict[str, email.message.EmailMessage] = {}
    for key in box.iterkeys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        idem = str(msg["X-Ruhrflow-Key"])
        kind = idem.split(":", 1)[0]
        kinds[kind] += 1
        samples.setdefault(kind, msg)
    # the idempotency keys name the kind: transition:…:<kind>, deadline-rung:…, digest:…
    assert kinds["digest"] > 0 and kinds["deadline-rung"] > 0 and kinds["transition"] > 0
    subjects = [str(m["Subject"]) for m in samples.values()]
    assert all(s.strip() for s in subjects)
    text_parts = []
    for msg in samples.values():
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        text_parts.append(body.get_content())
        assert msg.get_body(preferencelist=("html",)) is not None
    german = "".join(text_parts)
    assert "Ruhr-Konferenz" in german and ("Sehr geehrte" in german or "Guten Tag" in german)


def test_notices_of_every_kind_were_delivered(demo_run: tuple[Path, str]) -> None:
    directory, stdout = demo_run
    rows = _json(directory, "notices", "list", "--limit", "100000")
    assert isinstance(rows, list)
    by_kind = Counter(r["kind"] for r in rows)
    assert set(KINDS) <= set(by_kind), by_kind
    assert {r["status"] for r in rows} == {"sent"}
    assert "audit verify: OK" in stdout


def test_the_demo_says_how_far_it_is_each_simulated_quarter(demo_run: tuple[Path, str]) -> None:
    # given the one run's progress on stderr: then every quarter begun has its line
    directory, _ = demo_run
    lines = (directory.parent / "stderr.txt").read_text(encoding="utf-8").splitlines()
    quarters = [line for line in lines if " quarter " in line]
    expected = [f"{year}-Q{q}" for year in range(2019, END.year + 1) for q in (1, 2, 3, 4)]
    last = f"{END.year}-Q{(END.month - 1) // 3 + 1}"  # the quarter the demo ends in
    expected = expected[expected.index("2019-Q4") : expected.index(last) + 1]
    assert [line.split(" quarter ")[1].split()[0] for line in quarters] == expected
    assert all("history entries" in line for line in quarters)
    assert lines[0].startswith("2019-07-01  imported 75 proposals")


def test_the_history_verifies(demo_run: tuple[Path, str]) -> None:
    directory, _ = demo_run
    result = CliRunner().invoke(
        cli, ["--config", str(directory / "ruhrflow.toml"), "audit", "verify"]
    )
    assert result.exit_code == 0, result.output


def test_a_second_run_refuses_to_overwrite(demo_run: tuple[Path, str]) -> None:
    directory, _ = demo_run
    result = CliRunner().invoke(cli, ["demo", "--dir", str(directory)])
    assert result.exit_code == 2
    assert "--fresh" in result.stderr
    assert (directory / "ruhrflow.db").exists()


def test_fresh_removes_only_what_the_demo_wrote(tmp_path: Path) -> None:
    (tmp_path / "ruhrflow.db").write_text("old")
    (tmp_path / "mail").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DemoExists):
        prepare_directory(tmp_path, fresh=False)
    prepare_directory(tmp_path, fresh=True)
    assert not (tmp_path / "ruhrflow.db").exists() and not (tmp_path / "mail").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_demo_leaves_proposals_of_its_own_to_try_marked_as_such(
    demo_run: tuple[Path, str],
) -> None:
    directory, _ = demo_run
    listed = _json(directory, "proposal", "list")
    assert isinstance(listed, list)
    samples = [r for r in listed if r["title"].startswith(f"{SAMPLE_TITLE}: ")]
    # in the early steps, where the demo's accounts (forum-03, koordination) can act on them
    assert Counter(r["state"] for r in samples) == {"proposed": 2, "consultation": 2}
    with sqlite3.connect(directory / "ruhrflow.db") as conn:
        sources = {
            key: json.loads(data).get("source")
            for key, data in conn.execute("SELECT key, data FROM proposals")
        }
    assert {r["key"] for r in samples} == {k for k, v in sources.items() if v == SAMPLE_SOURCE}
    assert SAMPLE_SOURCE.startswith(SAMPLE_TITLE)


def test_the_demo_publishes_the_board_and_serve_shows_it_at_public(
    demo_run: tuple[Path, str],
) -> None:
    import csv

    from workflow import load_settings
    from workflow.web import create_app

    directory, stdout = demo_run
    public = directory / "public"
    # the Sachstand the round ends with, as the last Fortschrittsbericht published it
    counts = ", ".join(f"{n} {g}" for g, n in PUBLISHED[END.date()].items())
    assert f"board:    {public} (Sachstand 31.12.2024: {counts})" in stdout
    assert "(the board at /public/)" in stdout and "scheduler run" in stdout
    text = (public / "proposals.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert len(rows) == 73 and not any(r["titel"].startswith(SAMPLE_TITLE) for r in rows)
    # and the demo's config serves it: what `ruhrflow serve` runs, through the app factory
    client = create_app(load_settings(directory / "ruhrflow.toml", env={})).test_client()
    page = client.get("/public/")
    assert page.status_code == 200
    assert page.get_data() == (public / "index.html").read_bytes()
    listed = _json(directory, "proposal", "list")
    assert isinstance(listed, list)
    keys = [r["key"] for r in listed if r["title"].startswith(f"{SAMPLE_TITLE}: ")]
    html = page.get_data(as_text=True)
    assert len(keys) == 4 and not any(key in html for key in keys)
    assert not any((public / f"projekt-{key.lower()}.html").exists() for key in keys)
