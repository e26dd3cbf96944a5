"""The formats of a definition file: which keys a format has, and the defaults of later keys.

A definition registered by an earlier release stays in the database for as long as a
proposal runs on it — years. It must keep loading under the rules it was written for, so the
format only grows, by one rule (README, "Development"):

    **A key added after format 1 is never required of a file that does not use its format.**
    Every such key has a default here, derived by a documented rule, and is listed in
    :data:`FORMATS` under the format that added it.

A file may say which format it uses (``format: 2`` at the top); without it, the format is
*inferred*: the newest format whose keys the file uses (a file that uses none of the later
keys is format 1). A file that declares a format and uses a key of a newer one is refused with
the key and the format to declare; a format newer than this ruhrflow knows is refused too. Within
its format a file is checked as strictly as ever: a format-2 file must name ``public:`` for
every state, because format 2 requires it.

Adding a key: append a :class:`KeyAdded` to a new :class:`Format` (or the newest unreleased
one), give it a default (a function of the parsed definition, documented in its ``default``
text) and make the parser apply the default when ``fmt.number`` is older than the key's format.
``tests/process/test_formats.py`` removes every later key from the shipped definition and
checks that what remains still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyAdded:
    """A key that a format added: its path pattern (``states.*.public``) and its default."""

    path: str
    default: str  # how a file of an older format gets it (documented for the user)

    def used_in(self, raw: Mapping[str, Any]) -> bool:
        """Whether the raw definition ``raw`` uses this key anywhere."""
        return any(True for _ in _matches(raw, self.path.split(".")))


@dataclass(frozen=True)
class Format:
    """One format of the definition file."""

    number: int
    release: str  # the first ruhrflow release that reads it
    added: tuple[KeyAdded, ...]
    summary: str


FORMATS: tuple[Format, ...] = (
    Format(1, "0.1.0", (), "states, transitions, fields, roles, permissions, deadlines"),
    Format(
        2,
        "0.2.0",
        (
            KeyAdded(
                "states.*.public",
                "the state's group by its id in the Ruhr-Konferenz's process (idea, proposed,"
                " consultation, ministry_review, cabinet: in Vorbereitung; approved, budget,"
                " funded: in Prüfung; implementation: in Umsetzung; completed: abgeschlossen;"
                " discontinued: nicht weiterverfolgt); any other state: nicht gezählt when"
                " final, in Vorbereitung otherwise — never counted in the public figures",
            ),
            KeyAdded(
                "notices.*",
                "the routing ruhrflow 0.1.0 had in code (notifications to the lead and the"
                " participating ministries; reminders and escalations as the deadlines say)",
            ),
        ),
        "public status groups of the Fortschrittsberichte (states.*.public); declared notices",
    ),
    Format(
        3,
        "0.3.0",
        (
            KeyAdded("format", "inferred from the keys the file uses"),
            KeyAdded(
                "permissions.attach_document",
                "coordinator and the proposal's lead ministry (DEFAULT_PERMISSIONS)",
            ),
            KeyAdded("permissions.edit", "coordinator (DEFAULT_PERMISSIONS)"),
            KeyAdded("permissions.move_deadline", "coordinator (DEFAULT_PERMISSIONS)"),
            KeyAdded("permissions.migrate", "coordinator (DEFAULT_PERMISSIONS)"),
            KeyAdded("permissions.pseudonymise", "coordinator (DEFAULT_PERMISSIONS)"),
            KeyAdded("guards.*", "the German text the guard registry gives each guard"),
            KeyAdded(
                "fields.*.not_future",
                "true for a date field named decision_date (a decision is dated the day it was"
                " taken: the Kabinettbeschluss of the Ruhr-Konferenz's process since format 1),"
                " false for every other field (default_not_future)",
            ),
        ),
        "the file may declare its format (format: N); who may attach documents and edit;"
        " what each guard requires, in German (guards:); a date that may not lie after the"
        " engine's day (fields.*.not_future)",
    ),
)

# Permissions a later format added: who may, when a file of an older format does not say.
# Every action the engine checks is here or named by every format-1 file (create,
# record_statement, add_funding); a transition's roles are its own.
DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "attach_document": ("coordinator", "lead_ministry"),
    "edit": ("coordinator",),
    "move_deadline": ("coordinator",),
    "migrate": ("coordinator",),
    "pseudonymise": ("coordinator",),
}
CURRENT = FORMATS[-1].number
_BY_NUMBER = {f.number: f for f in FORMATS}

# The status groups of the states the Ruhr-Konferenz's process has had since format 1
# (definitions/ruhr_konferenz.yaml, versions 1 to 3): how a format-1 definition of it is counted.
_RUHR_KONFERENZ_PUBLIC = {
    "idea": "in Vorbereitung",
    "proposed": "in Vorbereitung",
    "consultation": "in Vorbereitung",
    "ministry_review": "in Vorbereitung",
    "cabinet": "in Vorbereitung",
    "approved": "in Prüfung",
    "budget": "in Prüfung",
    "funded": "in Prüfung",
    "implementation": "in Umsetzung",
    "completed": "abgeschlossen",
    "discontinued": "nicht weiterverfolgt",
    "rejected": "nicht gezählt",
    "withdrawn": "nicht gezählt",
    "merged": "nicht gezählt",
}


def default_public(state_id: str, *, final: bool) -> str:
    """The public group of a state of a format-1 file (see ``states.*.public`` above)."""
    known = _RUHR_KONFERENZ_PUBLIC.get(state_id)
    if known is not None and (known in ("abgeschlossen", "nicht weiterverfolgt",
                                        "nicht gezählt")) == final:  # fmt: skip
        return known
    return "nicht gezählt" if final else "in Vorbereitung"


def default_not_future(name: str, field_type: str) -> bool:
    """Whether a date field that does not say ``not_future`` refuses a day after the engine's
    (see ``fields.*.not_future`` above): a decision's date, as ``decision_date`` has always
    been; a planned date such as ``cabinet_session`` lies ahead by nature."""
    return field_type == "date" and name == "decision_date"


@dataclass(frozen=True)
class Resolved:
    """The format a file is read under, and whether it said so or it was inferred."""

    number: int
    declared: bool
    problems: tuple[tuple[str, str], ...] = ()  # (key path, message)

    def newer(self) -> tuple[Format, ...]:
        """The formats after this one: what a newer format would add."""
        return tuple(f for f in FORMATS if f.number > self.number)

    def describe(self) -> str:
        """``format 2 (declared)`` or ``format 1 (inferred …)``, for ``definition check``."""
        fmt = _BY_NUMBER.get(self.number)
        release = f", ruhrflow {fmt.release}" if fmt else ""
        how = "declared" if self.declared else "inferred from the keys it uses"
        return f"format {self.number} ({how}{release})"


def resolve(raw: Mapping[str, Any]) -> Resolved:
    """The format of the raw definition ``raw`` (a mapping read from YAML)."""
    used = [f.number for f in FORMATS for key in f.added if key.used_in(raw)]
    inferred = max(used, default=1)
    declared = raw.get("format")
    if declared is None:
        return Resolved(inferred, declared=False)
    if not isinstance(declared, int) or isinstance(declared, bool) or declared < 1:
        return Resolved(
            inferred, False, (("format", f"must be a format number, not {declared!r}"),)
        )
    if declared > CURRENT:
        return Resolved(
            CURRENT,
            True,
            (("format", f"format {declared} is newer than this ruhrflow reads (up to {CURRENT}):"
                        " upgrade ruhrflow"),),
        )  # fmt: skip
    problems = tuple(
        (
            key.path,
            f"not in format {declared}: added by format {f.number} (ruhrflow {f.release});"
            f" declare format: {f.number}",
        )
        for f in FORMATS
        if f.number > declared
        for key in f.added
        if key.path != "format" and key.used_in(raw)
    )
    return Resolved(declared, True, problems)


def _matches(value: Any, parts: list[str]) -> Any:
    """Every value at the key path ``parts`` (``*`` is any key or list item) in ``value``."""
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        items = value.values() if isinstance(value, Mapping) else value
        if isinstance(value, Mapping | list):
            for item in items:
                yield from _matches(item, rest)
        return
    if isinstance(value, Mapping) and head in value:
        yield from _matches(value[head], rest)
