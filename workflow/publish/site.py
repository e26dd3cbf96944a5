"""``publish``: read the Sachstand as of a cut-off, record its checkpoint, write the site.

The figures and the checkpoint come from one write transaction: the chain heads the
checkpoint records are exactly the ends of the chain prefixes the figures were computed
from, so ``audit verify --checkpoint DIGEST`` on an export proves that the history the
published counts rest on is unaltered (workflow/audit/asof.py explains "prefix").

Files are rendered in memory first and written afterwards; an unwritable output
directory is a user error (exit 2), not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from workflow.access.directory import Directory
from workflow.audit.asof import (
    cutoff_of,
    heads_as_of,
    reconstruct,
    record_cutoff_checkpoint,
)
from workflow.audit.reports import GROUPS, newest_definition
from workflow.errors import InvalidInput
from workflow.process import german
from workflow.process.vocabulary import BERLIN
from workflow.publish.board import FIELDS, Board, PublicProject, public_project
from workflow.publish.opendata import (
    CATALOG_NAME,
    CSV_NAME,
    JSON_NAME,
    catalog_ttl,
    proposals_csv,
    proposals_json,
)
from workflow.store.db import Store
from workflow.store.installation import sample_data

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Bar colours of the chart: each has a contrast of at least 4.5:1 against white and the
# bars are labelled with their word and number, so no meaning rests on colour alone.
COLOURS = {
    "in Prüfung": "#8a4b00",
    "in Umsetzung": "#005a9c",
    "abgeschlossen": "#1b6b2f",
    "nicht weiterverfolgt": "#5c5c5c",
}


@dataclass(frozen=True)
class PublishResult:
    """What ``publish`` wrote."""

    output: Path
    as_of: date
    digest: str
    counts: dict[str, int]
    files: list[str]


def build_board(
    store: Store,
    directory: Directory,
    *,
    as_of: date,
    now: datetime,
    actor_id: str,
    audit_key: bytes | None,
) -> Board:
    """Reconstruct the Sachstand at the end of ``as_of`` and record its checkpoint."""
    cutoff = min(cutoff_of(as_of), now)
    with store.write() as conn:
        definition = newest_definition(conn)
        states = reconstruct(conn, cutoff)
        heads = heads_as_of(conn, cutoff)
        digest = record_cutoff_checkpoint(
            conn, heads, as_of=as_of, actor_id=actor_id, now=now, audit_key=audit_key
        )
        sample = sample_data(conn)
    projects: list[PublicProject] = []
    outside: dict[str, int] = {}
    for p in states:
        public = public_project(p, definition, directory)
        if public is None:
            group = definition.states[p.state].public if p.state in definition.states else "?"
            outside[group] = outside.get(group, 0) + 1
        else:
            projects.append(public)
    return Board(
        title=definition.title,
        as_of=as_of,
        published_at=now.astimezone(BERLIN),
        digest=digest,
        projects=projects,
        handlungsfelder=dict(definition.handlungsfelder),
        outside=outside,
        sample_data=sample,
    )


def chart(board: Board) -> dict[str, Any]:
    """Geometry of the bar chart (one bar per public group)."""
    counts = board.counts
    biggest = max([*counts.values(), 1])
    bars = []
    for i, group in enumerate(GROUPS):
        width = round(360 * counts[group] / biggest)
        bars.append(
            {
                "group": group,
                "n": counts[group],
                "y": 10 + i * 44,
                "width": width,
                "colour": COLOURS[group],
            }
        )
    return {"bars": bars, "height": 10 + len(GROUPS) * 44}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(german.FILTERS)  # the German dates and amounts of mails and web
    return env


def render_site(board: Board, base_url: str) -> dict[str, bytes]:
    """Every file of the site by name, rendered in memory."""
    env = _environment()
    common = {"board": board, "groups": GROUPS, "fields": FIELDS}
    files: dict[str, bytes] = {
        "index.html": env.get_template("index.html")
        .render(**common, chart=chart(board), colours=COLOURS)
        .encode("utf-8"),
        "fields.html": env.get_template("fields.html").render(**common).encode("utf-8"),
    }
    page = env.get_template("project.html")
    for p in board.projects:
        files[p.page] = page.render(**common, p=p).encode("utf-8")
    files[CSV_NAME] = proposals_csv(board)
    files[JSON_NAME] = proposals_json(board)
    files[CATALOG_NAME] = catalog_ttl(board, base_url, modified=board.published_at).encode("utf-8")
    return files


def _writable(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / ".ruhrflow-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InvalidInput(
            f"--output: {output} is not a writable directory ({exc.strerror or exc})"
        ) from None


def publish(
    store: Store,
    directory: Directory,
    output: Path,
    *,
    as_of: date,
    now: datetime,
    actor_id: str,
    audit_key: bytes | None,
    base_url: str,
) -> PublishResult:
    """Write the board as of the end of ``as_of`` into ``output``."""
    _writable(output)  # before the checkpoint: a failed run records nothing
    board = build_board(
        store, directory, as_of=as_of, now=now, actor_id=actor_id, audit_key=audit_key
    )
    files = render_site(board, base_url)
    try:
        for name, content in files.items():
            (output / name).write_bytes(content)
    except OSError as exc:
        raise InvalidInput(f"--output: cannot write {output}: {exc.strerror or exc}") from None
    return PublishResult(output, as_of, board.digest, board.counts, sorted(files))
