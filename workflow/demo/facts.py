"""The facts the demo plays out: the public calendar and counts of the 2019 round, and
what the demo assumes beyond them (illustrative).

What is public fact and what is illustrative: the calendar (15 Jul 2019 forum deadline,
three weeks of consultation, cabinet decision on 5 Nov 2019 approving 74 and taking the
Altschulden proposal out, 60.8 Mio € for 2020) and the counts of the Fortschrittsberichte
at their cut-offs (``PUBLISHED``) come from ``shared/domain/ruhr-konferenz.md``; the demo
runs to 31 Dec 2024 and its history reproduces those counts (``report status --as-of``).
Which project has which outcome, and when, is illustrative: only the counts are public
(``COURSES``).

The reports count 73 decided projects where the cabinet approved 74; the sources seen do
not say why. The demo assumes (illustrative) that one project went up in another one in
2021 (trigger ``merge``, state ``merged``, not counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from workflow.process.vocabulary import BERLIN

SEED = 2019
COORDINATOR = "koordination"
FUNDS_2020 = Decimal(60_800_000)  # planned for Ruhr-Konferenz projects in 2020 (public figure)
END = datetime(2024, 12, 31, 18, 0, tzinfo=BERLIN)
OUTCOMES = {"completed": 42, "discontinued": 15, "implementation": 16, "merged": 1}
# The published counts (Fortschrittsberichte, Sachstand at the end of the year); None:
# not published. Sources: definitions/data/README.md.
PUBLISHED: dict[date, dict[str, int | None]] = {
    date(2021, 12, 31): {
        "in Prüfung": 17, "in Umsetzung": 55, "abgeschlossen": 1, "nicht weiterverfolgt": 0,
    },
    date(2022, 12, 31): {
        "in Prüfung": None, "in Umsetzung": None, "abgeschlossen": 22,
        "nicht weiterverfolgt": 13,
    },
    date(2024, 12, 31): {
        "in Prüfung": 0, "in Umsetzung": 16, "abgeschlossen": 42, "nicht weiterverfolgt": 15,
    },
}  # fmt: skip


@dataclass(frozen=True)
class Course:
    """How a group of projects runs after the budget (illustrative: only counts are public).

    ``start``: the window the works begin in (None: never started); ``end``: the window of
    the outcome (None: still in implementation on 31 Dec 2024).
    """

    count: int
    start: tuple[date, date] | None
    outcome: str
    end: tuple[date, date] | None


_EARLY = (date(2020, 1, 6), date(2020, 3, 27))
_START_2022 = (date(2022, 1, 10), date(2022, 11, 30))
_START_2023 = (date(2023, 2, 1), date(2023, 9, 29))
_LATER = (date(2023, 3, 1), date(2024, 12, 13))
# 57 projects start in 2020, 17 are decided but not yet started at the end of 2021 (the
# "in Prüfung" of the 2021 report). At the end of 2021: 1 completed, 55 in implementation,
# 17 in Prüfung, 1 merged; 2022: 22 completed, 13 discontinued (33 in implementation and
# 5 in Prüfung: illustrative); 2024: 42 completed, 16 in implementation, 15 discontinued.
COURSES: dict[str, Course] = {
    "merged 2021": Course(1, _EARLY, "merged", (date(2021, 3, 1), date(2021, 9, 30))),
    "completed 2021": Course(1, _EARLY, "completed", (date(2021, 6, 1), date(2021, 11, 30))),
    "completed 2022": Course(21, _EARLY, "completed", (date(2022, 1, 10), date(2022, 12, 16))),
    "discontinued 2022": Course(9, _EARLY, "discontinued", (date(2022, 2, 1), date(2022, 12, 9))),
    "completed later": Course(16, _EARLY, "completed", _LATER),
    "discontinued later": Course(1, _EARLY, "discontinued", _LATER),
    "going on": Course(8, _EARLY, "implementation", None),
    "dropped 2022": Course(4, None, "discontinued", (date(2022, 3, 1), date(2022, 11, 30))),
    "2022 completed": Course(3, _START_2022, "completed", _LATER),
    "2022 discontinued": Course(1, _START_2022, "discontinued", _LATER),
    "2022 going on": Course(4, _START_2022, "implementation", None),
    "2023 completed": Course(1, _START_2023, "completed", (date(2024, 3, 1), date(2024, 12, 13))),
    "2023 going on": Course(4, _START_2023, "implementation", None),
}


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Berlin wall-clock moment as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


SAMPLE_DATA = (
    "Beispieldaten aus „ruhrflow demo“, keine amtlichen Angaben. Die 75 Vorschläge stammen aus"
    " öffentlichen Angaben der Landesregierung NRW oder sind Platzhalter; Ressorts und Kosten"
    " sind zum Teil angenommen. Welches Projekt wann welchen Stand erreicht, ist erfunden: nur"
    " die Gesamtzahlen zu den Stichtagen der Fortschrittsberichte entsprechen den"
    " veröffentlichten. Vorschläge mit „Beispiel der Demo“ im Titel hat die Demo nach dem"
    " Sachstand 31.12.2024 zum Ausprobieren angelegt; dessen Zahlen enthalten sie nicht."
)
"""What the demo's database says of itself (``installation.sample_data``): shown on every
page of a board published from it and in the web application running on it."""
