"""The parts of a process definition: states, fields, transitions, the public status words.

Plain immutable values; :class:`workflow.process.definition.Definition` holds them, the
section parsers (:mod:`workflow.process.sections`) build them from a file.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELD_TYPES = ("date", "text", "integer", "decimal")
# The status words of the published Fortschrittsberichte (the four counted groups of the
# projects decided by the cabinet), then the two words for what they do not count.
PUBLIC_COUNTED = ("in Prüfung", "in Umsetzung", "abgeschlossen", "nicht weiterverfolgt")
PUBLIC_GROUPS = ("in Vorbereitung", *PUBLIC_COUNTED, "nicht gezählt")
PUBLIC_ONGOING = ("in Vorbereitung", "in Prüfung", "in Umsetzung")


@dataclass(frozen=True)
class StateDef:
    """One state of the process."""

    id: str
    label: str
    phase: str
    final: bool = False
    description: str = ""
    public: str = ""  # its status word in the public reports (one of PUBLIC_GROUPS)


@dataclass(frozen=True)
class FieldDef:
    """A value a transition may require (``--set decision_date=2019-11-05``)."""

    name: str
    type: str
    label: str
    min: float | None = None
    max: float | None = None
    not_future: bool = False  # a date after the engine's day is refused (a decision's date)


@dataclass(frozen=True)
class TransitionDef:
    """One trigger leading from one or more states to a destination."""

    trigger: str
    sources: tuple[str, ...]
    dest: str
    label: str
    roles: tuple[str, ...]
    guards: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
