"""What the demo leaves to try: a few proposals of its own in the early steps.

The round ends with every proposal decided, so without these nothing in the web application
could be submitted, opened for consultation or commented on. They are no proposals of the
Ruhr-Konferenz: their titles begin with "Beispiel der Demo", their source says where they come
from, and they are made after the cut-off of the board the demo publishes (Sachstand
31.12.2024), so none of its figures counts them. (A board of a later cut-off lists them
among the proposals not counted, as long as no one takes them past the cabinet: nothing
but their source tells them from real ones.) In Themenforum 3 with IM and MWIDE leading,
the demo's web accounts (``forum-03``, ``im``, ``mwide``, ``koordination``) can act on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from workflow.demo.facts import COORDINATOR, at
from workflow.engine.engine import Engine
from workflow.engine.intake import ProposalInput

SAMPLE_TITLE = "Beispiel der Demo"
SAMPLE_SOURCE = (
    "Beispiel der Demo: von „ruhrflow demo“ nach dem Sachstand 31.12.2024 zum Ausprobieren"
    " angelegt; kein Vorschlag der Ruhr-Konferenz"
)
FORUM = 3
LEFT_AT = at(2025, 1, 6, 9)  # the first Monday after the Sachstand of 31.12.2024
"""When the samples are made: after the cut-off of the board the demo publishes."""


@dataclass(frozen=True)
class Sample:
    """A sample proposal and the steps it is taken through (in order)."""

    title: str
    lead: str
    handlungsfeld: int
    cost: Decimal
    summary: str
    steps: tuple[tuple[str, str], ...]  # (trigger, actor)


SUBMIT = ("submit", f"forum-{FORUM:02d}")
OPEN = ("open_consultation", COORDINATOR)
SAMPLES = (
    Sample("Quartiersbüros für Nachbarschaftshilfe", "IM", 3, Decimal(850_000),
           "Zum Ausprobieren: eingereicht, die Beteiligung kann eröffnet werden.", (SUBMIT,)),
    Sample("Gründungslotsen für kleine Betriebe", "MWIDE", 2, Decimal(1_200_000),
           "Zum Ausprobieren: eingereicht, die Beteiligung kann eröffnet werden.", (SUBMIT,)),
    Sample("Sichere Schulwege im Revier", "IM", 3, Decimal(2_400_000),
           "Zum Ausprobieren: in der Beteiligung, Stellungnahmen können erfasst werden.",
           (SUBMIT, OPEN)),
    Sample("Leerstand als Werkstattfläche", "MWIDE", 2, Decimal(600_000),
           "Zum Ausprobieren: in der Beteiligung, Stellungnahmen können erfasst werden.",
           (SUBMIT, OPEN)),
)  # fmt: skip


def leave_samples(engine: Engine, now: datetime = LEFT_AT) -> list[str]:
    """Create the samples at ``now`` and take each through its steps; return their keys."""
    items = [
        ProposalInput(
            title=f"{SAMPLE_TITLE}: {s.title}",
            handlungsfeld=s.handlungsfeld,
            themenforum=FORUM,
            lead=s.lead,
            cost_estimate=s.cost,
            summary=s.summary,
            source=SAMPLE_SOURCE,
        )
        for s in SAMPLES
    ]
    keys = engine.create_proposals(items, actor=COORDINATOR, now=now)
    for key, sample in zip(keys, SAMPLES, strict=True):
        for trigger, actor in sample.steps:
            engine.advance(key, trigger, actor=actor, now=now)
    return keys
