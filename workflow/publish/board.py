"""What the board shows: the decided projects as of a cut-off, in public words only.

Built from the reconstruction as of the cut-off (workflow/audit/asof.py) and the
definition's ``public:`` groups. Every value here may be published; nothing else is
carried (no actors, refs, comments, statements, reasons or addresses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from workflow.access.directory import Directory
from workflow.audit.asof import ProposalAsOf
from workflow.audit.reports import GROUPS, status_group
from workflow.process.definition import Definition
from workflow.process.vocabulary import BERLIN

# The published fields, in order: (name, German label, definition). One list serves the
# CSV header, the JSON keys, the project pages and fields.html.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("kennung", "Kennung", "Kennung des Projekts: RK-FF-PP, FF = Themenforum, PP = laufende "
     "Nummer des Vorschlags im Forum."),
    ("titel", "Titel", "Titel des Projekts."),
    ("handlungsfeld", "Handlungsfeld (Nummer)", "Nummer des Handlungsfelds der Ruhr-Konferenz "
     "(1 bis 5)."),
    ("handlungsfeld_name", "Handlungsfeld", "Name des Handlungsfelds."),
    ("themenforum", "Themenforum", "Nummer des Themenforums (1 bis 20), aus dem der Vorschlag "
     "stammt."),
    ("ressort", "Federführendes Ressort (Kürzel)", "Kürzel des federführenden Ministeriums, "
     "das für Umsetzung und Finanzierung verantwortlich ist."),
    ("ressort_name", "Federführendes Ressort", "Name des federführenden Ministeriums."),
    ("status", "Status", "Status wie in den Fortschrittsberichten: in Prüfung (beschlossen, "
     "noch in Prüfung oder Finanzierung, noch nicht in Umsetzung), in Umsetzung, "
     "abgeschlossen, nicht weiterverfolgt."),
    ("status_seit", "Status seit", "Datum (TT.MM.JJJJ in HTML, JJJJ-MM-TT in CSV und JSON), "
     "seit dem das Projekt diesen Status hat."),
    ("verfahrensschritt", "Verfahrensschritt", "Genauerer Schritt im Verfahren (z. B. "
     "Ergänzungsvorlage zum Haushalt, Finanzierung gesichert)."),
    ("beschluss", "Kabinettbeschluss", "Datum, an dem das Projekt beschlossen oder "
     "nachträglich aufgenommen wurde."),
    ("projektvolumen_eur", "Projektvolumen (Kostenschätzung) in Euro", "Geschätzte "
     "Gesamtkosten des Projekts in Euro, wie bei der Aufnahme angegeben; keine Ausgaben."),
    ("finanzierung_gesichert_eur", "Gesicherte Finanzierung in Euro", "Summe der bis zum "
     "Stichtag als gesichert erfassten Mittel (Land, Bund, EU, Stiftungen, sonstige), alle "
     "Jahre."),
    ("umsetzungsstand_prozent", "Umsetzungsstand in Prozent", "Zuletzt vom federführenden "
     "Ressort gemeldeter Umsetzungsstand (0 bis 100); leer, wenn noch nichts gemeldet wurde."),
    ("umsetzungsstand_datum", "Umsetzungsstand gemeldet am", "Datum der letzten Meldung des "
     "Umsetzungsstands."),
)  # fmt: skip


@dataclass(frozen=True)
class TimelineStep:
    """One change of state, dated, in German."""

    on: date
    label: str
    status: str


@dataclass
class PublicProject:
    """One decided project as the public may see it."""

    kennung: str
    titel: str
    handlungsfeld: int
    handlungsfeld_name: str
    themenforum: int
    ressort: str
    ressort_name: str
    status: str
    status_seit: date
    verfahrensschritt: str
    beschluss: date | None
    projektvolumen_eur: Decimal | None
    finanzierung_gesichert_eur: Decimal
    umsetzungsstand_prozent: int | None
    umsetzungsstand_datum: date | None
    timeline: list[TimelineStep] = field(default_factory=list)

    @property
    def page(self) -> str:
        """The file name of the project's page."""
        return f"projekt-{self.kennung.lower()}.html"

    def values(self) -> dict[str, Any]:
        """The published fields, in FIELDS order."""
        return {name: getattr(self, name) for name, _, _ in FIELDS}


@dataclass
class Board:
    """Everything the site shows."""

    title: str
    as_of: date
    published_at: datetime
    digest: str
    projects: list[PublicProject]
    handlungsfelder: dict[int, str]
    outside: dict[str, int]
    sample_data: str | None = None  # a database of sample data says where it comes from

    @property
    def counts(self) -> dict[str, int]:
        """Decided projects per public group."""
        return {g: sum(1 for p in self.projects if p.status == g) for g in GROUPS}

    def by_handlungsfeld(self) -> list[dict[str, Any]]:
        """Per Handlungsfeld: its name, the count per group and the total."""
        rows = []
        for hf, name in sorted(self.handlungsfelder.items()):
            mine = [p for p in self.projects if p.handlungsfeld == hf]
            counts = {g: sum(1 for p in mine if p.status == g) for g in GROUPS}
            rows.append({"nummer": hf, "name": name, "counts": counts, "total": len(mine)})
        return rows


def _day(moment: datetime) -> date:
    return moment.astimezone(BERLIN).date()


def public_project(
    p: ProposalAsOf, definition: Definition, directory: Directory
) -> PublicProject | None:
    """The public view of a proposal, or None when it is no decided project (yet)."""
    status = status_group(p.state, definition)
    if status not in GROUPS:
        return None
    timeline = [
        TimelineStep(
            _day(s.at), definition.state_label(s.to_state), status_group(s.to_state, definition)
        )
        for s in p.timeline
    ]
    since = p.since
    decided: date | None = None
    for step in p.timeline:
        if status_group(step.to_state, definition) in GROUPS:
            # the date of the cabinet's decision as recorded with the step (it may be entered
            # days later), else the day of the step
            decided = step.decision_date or _day(step.at)
            break
    for step in reversed(p.timeline):  # the status began where the run of its group began
        if status_group(step.to_state, definition) != status:
            break
        since = step.at
    progress = p.progress
    progress_day = _day(p.progress_at) if p.progress_at else None
    if status == "abgeschlossen":  # done is 100 %, whatever was reported before (often 80-99)
        progress, progress_day = 100, _day(since)
    ministry = directory.ministry(p.lead)
    return PublicProject(
        kennung=p.key,
        titel=p.title,
        handlungsfeld=p.handlungsfeld,
        handlungsfeld_name=definition.handlungsfelder.get(p.handlungsfeld, ""),
        themenforum=p.themenforum,
        ressort=p.lead,
        ressort_name=ministry.name if ministry else p.lead,
        status=status,
        status_seit=_day(since),
        verfahrensschritt=definition.state_label(p.state),
        beschluss=decided,
        projektvolumen_eur=p.cost_estimate,
        finanzierung_gesichert_eur=p.secured_funding,
        umsetzungsstand_prozent=progress,
        umsetzungsstand_datum=progress_day,
        timeline=timeline,
    )
