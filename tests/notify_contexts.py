"""Example contexts for every notice kind, as the engine will build them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")

# 5 Nov 2019, 09:00 in Berlin = 08:00 UTC (the cabinet decision day).
DECIDED_AT = datetime(2019, 11, 5, 8, 0, tzinfo=UTC)
DUE_AT = datetime(2019, 11, 26, 23, 0, tzinfo=UTC)  # 27.11.2019, 00:00 Uhr in Berlin


def proposal(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "key": "RK-03-01",
        "title": "Zentrale Sicherheitskooperation Ruhr gegen Clankriminalität",
        "state": "beschlossen",
        "state_label": "Vom Kabinett beschlossen",
        "handlungsfeld": 3,
        "handlungsfeld_label": "Gelebte Vielfalt – starker Zusammenhalt",
        "themenforum": 3,
        "lead": "IM",
        "lead_name": "Ministerium des Innern",
    }
    values.update(overrides)
    return values


def status_change_full(**proposal_overrides: Any) -> dict[str, Any]:
    return {
        "proposal": proposal(**proposal_overrides),
        "transition": {
            "trigger": "approve",
            "trigger_label": "Kabinettbeschluss",
            "from_state": "kabinettvorlage",
            "from_label": "Kabinettvorlage",
            "to_state": "beschlossen",
            "to_label": "Vom Kabinett beschlossen",
            "actor": "stk-koordination",
            "actor_name": "Koordinierung Staatskanzlei",
            "at": DECIDED_AT,
            "comment": "Kabinettbeschluss vom 5.11.2019",
            "fields": {"decision_date": datetime(2019, 11, 5, 10, 30, tzinfo=BERLIN)},
        },
        "next_steps": [
            {"trigger": "fund", "label": "Finanzierung über die Ergänzungsvorlage sichern"},
            {"trigger": "withdraw", "label": "Nicht weiterverfolgen"},
        ],
        "deadlines": [
            {
                "kind": "ergaenzungsvorlage",
                "label": "Meldung zur Ergänzungsvorlage",
                "due_at": DUE_AT,
            }
        ],
    }


def status_change_minimal() -> dict[str, Any]:
    context = status_change_full()
    context["transition"] = {**context["transition"], "comment": None, "fields": {}}
    context["next_steps"] = []
    context["deadlines"] = []
    return context


def reminder(days_left: int = 3) -> dict[str, Any]:
    return {
        "proposal": proposal(),
        "deadline": {
            "kind": "ergaenzungsvorlage",
            "label": "Meldung zur Ergänzungsvorlage",
            "due_at": DUE_AT,
            "rung": "T-3",
            "days_left": days_left,
        },
    }


def escalation(overdue_days: int = 4) -> dict[str, Any]:
    return {
        "proposal": proposal(),
        "deadline": {
            "kind": "ergaenzungsvorlage",
            "label": "Meldung zur Ergänzungsvorlage",
            "due_at": DUE_AT,
            "rung": "Eskalation",
            "overdue_days": overdue_days,
        },
    }


def consultation_opened(groups: list[str] | None = None) -> dict[str, Any]:
    return {
        "proposal": proposal(state="beteiligung", state_label="In der Beteiligung"),
        "deadline": {"kind": "beteiligung", "label": "Ende der Beteiligung", "due_at": DUE_AT},
        "groups": ["Kommunen", "IHK", "HWK", "Verbände"] if groups is None else groups,
    }


def digest_full() -> dict[str, Any]:
    return {
        "ministry": {
            "code": "MULNV",
            "name": "Ministerium für Umwelt, Landwirtschaft, Natur- und Verbraucherschutz",
        },
        "period": {
            "start": datetime(2019, 11, 3, 23, 0, tzinfo=UTC),
            "end": datetime(2019, 11, 10, 22, 59, tzinfo=UTC),
        },
        "by_state": [
            {
                "state_label": "In Umsetzung",
                "proposals": [
                    {"key": "RK-14-01", "title": "Offensive Grüne Infrastruktur 2030"},
                    {
                        "key": "RK-14-02",
                        "title": "Klimaresiliente Region mit internationaler Strahlkraft",
                    },
                ],
            },
            {"state_label": "In Prüfung", "proposals": []},
        ],
        "changes": [
            {
                "key": "RK-14-01",
                "title": "Offensive Grüne Infrastruktur 2030",
                "trigger_label": "Umsetzung begonnen",
                "to_label": "In Umsetzung",
                "at": DECIDED_AT,
                "actor_name": "Referat 42, MULNV",
            }
        ],
        "upcoming": [
            {
                "key": "RK-14-02",
                "title": "Klimaresiliente Region mit internationaler Strahlkraft",
                "label": "Fortschrittsbericht",
                "due_at": DUE_AT,
            }
        ],
    }


def digest_minimal() -> dict[str, Any]:
    context = digest_full()
    context.update(by_state=[], changes=[], upcoming=[])
    return context


def deadline_moved(reason: str = "Kabinettsitzung auf den 3.12.2019 verschoben") -> dict[str, Any]:
    return {
        "proposal": proposal(),
        "deadline": {
            "kind": "ergaenzungsvorlage",
            "label": "Meldung zur Ergänzungsvorlage",
            "due_at": DUE_AT,
            "old_due_at": DECIDED_AT,
            "reason": reason,
            "actor_name": "Koordinierung Staatskanzlei",
        },
    }


FULL = {
    "status_change": status_change_full,
    "reminder": reminder,
    "escalation": escalation,
    "consultation_opened": consultation_opened,
    "digest": digest_full,
    "deadline_moved": deadline_moved,
}
MINIMAL = {
    "status_change": status_change_minimal,
    "reminder": lambda: reminder(days_left=0),
    "escalation": lambda: escalation(overdue_days=0),
    "consultation_opened": lambda: consultation_opened(groups=[]),
    "digest": digest_minimal,
    "deadline_moved": lambda: deadline_moved(reason="-"),
}
