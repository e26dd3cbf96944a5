"""Every proposal as it stood at the end of a day, reconstructed from the history alone.

The public Fortschrittsberichte give a "Sachstand" at a cut-off date. ``ruhrflow report
… --as-of DATE`` and ``ruhrflow publish`` answer from the hash-chained history, not from
the ``proposals`` row (which only knows "now"): a proposal's state at the cut-off is the
state its chain had reached by then.

What "by then" means, precisely: the **longest prefix of each chain whose entries are
all before the cut-off** (the end of DATE in Europe/Berlin). The chain is read in seq
order and stops at its first entry at or after the cut-off, so an entry appended later
with a back-dated time (``--now`` in the past) cannot slip into a past Sachstand. The
last entry of that prefix is the chain's *head as of the cut-off*; the heads are what
a publication's checkpoint records (:func:`heads_as_of`), so the published figures are
a function of exactly the chain prefixes the checkpoint proves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from workflow.engine.history import SYSTEM_PREFIX
from workflow.errors import InvalidInput
from workflow.process.vocabulary import BERLIN
from workflow.store import chains, reports
from workflow.store.db import Connection

# The Ruhr-Konferenz began on 31 Aug 2018: no Sachstand before 2018 exists.
EARLIEST = date(2018, 1, 1)


def parse_as_of(text: str, now: datetime) -> date:
    """A cut-off day from ``YYYY-MM-DD``: not before 2018, not after today (by ``now``)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"--as-of: {text!r} is not a date (YYYY-MM-DD)") from None
    if day < EARLIEST:
        raise InvalidInput(f"--as-of: {day} is before 2018, when the Ruhr-Konferenz began")
    today = now.astimezone(BERLIN).date()
    if day > today:
        raise InvalidInput(f"--as-of: {day} is in the future (today is {today})")
    return day


def cutoff_of(day: date) -> datetime:
    """The end of ``day`` in Europe/Berlin as an aware UTC moment (exclusive bound)."""
    next_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)
    return next_day.astimezone(UTC)


@dataclass(frozen=True)
class Step:
    """A change of state in a proposal's public timeline."""

    at: datetime
    trigger: str
    from_state: str | None
    to_state: str
    decision_date: date | None = None  # the cabinet's date the step recorded (``decision_date``)


@dataclass
class ProposalAsOf:
    """A proposal as it stood at the cut-off (nothing personal: no actors, no comments)."""

    key: str
    title: str
    handlungsfeld: int
    themenforum: int
    lead: str
    cost_estimate: Decimal | None
    state: str
    since: datetime
    head_seq: int
    head_hash: str
    progress: int | None = None
    progress_at: datetime | None = None
    secured_funding: Decimal = Decimal(0)
    timeline: list[Step] = field(default_factory=list)


def _prefixes(conn: Connection, cutoff: datetime) -> Iterator[list[Any]]:
    """Each proposal chain's entries before the cut-off, in seq order, chain by chain."""
    chain: str | None = None
    rows: list[Any] = []
    stopped = False
    for row in chains.proposal_chain_entries(conn, except_prefix=SYSTEM_PREFIX):
        if row.chain != chain:
            if rows:
                yield rows
            chain, rows, stopped = row.chain, [], False
        if stopped or row.at >= cutoff:
            stopped = True  # the prefix ends at the first entry at or after the cut-off
            continue
        rows.append(row)
    if rows:
        yield rows


def reconstruct(conn: Connection, cutoff: datetime) -> list[ProposalAsOf]:
    """Every proposal that existed before ``cutoff``, as it stood then (key order)."""
    attrs = {r.key: r for r in reports.proposal_attributes(conn)}
    secured: dict[int, Decimal] = {
        pid: Decimal(total) for pid, total in reports.secured_funding_before(conn, cutoff)
    }
    result: list[ProposalAsOf] = []
    for rows in _prefixes(conn, cutoff):
        a = attrs.get(rows[0].chain)
        if a is None:
            continue  # a chain without a proposal row: `audit verify` reports it
        p = ProposalAsOf(
            key=a.key,
            title=a.title,
            handlungsfeld=a.handlungsfeld,
            themenforum=a.themenforum,
            lead=a.lead,
            cost_estimate=Decimal(a.cost_estimate) if a.cost_estimate is not None else None,
            state="",
            since=rows[0].at,
            head_seq=rows[-1].seq,
            head_hash=rows[-1].hash,
            secured_funding=secured.get(a.id, Decimal(0)),
        )
        for row in rows:
            if row.to_state is None:
                continue
            fields = (row.data or {}).get("fields", {})
            if row.to_state != p.state:
                p.state, p.since = row.to_state, row.at
                decided = fields.get("decision_date")  # ISO text (workflow/process/fields.py)
                on = date.fromisoformat(decided) if decided else None
                p.timeline.append(Step(row.at, row.trigger, row.from_state, row.to_state, on))
            progress = fields.get("progress")
            if row.trigger == "report_progress" and progress is not None:
                p.progress, p.progress_at = int(progress), row.at
        if p.state:
            result.append(p)
    return sorted(result, key=lambda p: p.key)


def heads_as_of(conn: Connection, cutoff: datetime) -> list[tuple[str, int, str]]:
    """The head (chain, seq, hash) of every chain's prefix before ``cutoff``.

    All chains, the system chain included: its entries before the cut-off (earlier
    checkpoints, pseudonymisations) are part of the history the figures rest on.
    """
    heads: dict[str, tuple[int, str]] = {}
    stopped: set[str] = set()
    for row in chains.entry_times(conn):
        if row.chain in stopped:
            continue
        if row.at >= cutoff:
            stopped.add(row.chain)
            continue
        heads[row.chain] = (row.seq, row.hash)
    return [(chain, seq, head) for chain, (seq, head) in heads.items()]


def record_cutoff_checkpoint(
    conn: Connection,
    heads: list[tuple[str, int, str]],
    *,
    as_of: date,
    actor_id: str,
    now: datetime,
    audit_key: bytes | None,
) -> str:
    """Record a checkpoint over the heads as of a cut-off; return its digest.

    Inside the caller's write transaction (the one that read the figures). It is an
    ordinary ``checkpoint`` entry on ``@system`` — ``audit verify --checkpoint DIGEST``
    accepts it — whose heads are those of the chain prefixes before the cut-off rather
    than the current ones, with the cut-off date in its data.
    """
    from workflow.audit.checkpoint import heads_digest
    from workflow.engine.history import append_system_entry

    digest = heads_digest(heads)
    append_system_entry(
        conn,
        kind="checkpoint",
        trigger="checkpoint",
        actor_id=actor_id,
        now=now,
        data={
            "digest": digest,
            "rows": sum(seq for _, seq, _ in heads),
            "chains": len(heads),
            "heads": {chain: [seq, head] for chain, seq, head in heads},
            "as_of": as_of.isoformat(),
            "purpose": "publish",
        },
        audit_key=audit_key,
    )
    return digest
