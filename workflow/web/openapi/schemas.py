"""The pieces of the OpenAPI document: the schemas of the answers and the small builders of
parameters, bodies and responses (:mod:`workflow.web.openapi`)."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
ERROR = {
    "type": "object",
    "description": (
        "Every error: `error` one line of English for a program to match on, the status says"
        " what went wrong; `message` a German sentence to show a person."
    ),
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error", "message"],
    "additionalProperties": False,
}
TEXT = {"type": "string"}
MAYBE_TEXT = {"type": ["string", "null"]}
INT = {"type": "integer"}
MAYBE_INT = {"type": ["integer", "null"]}
TIME = {"type": "string", "description": "RFC 3339 in UTC with Z"}
MAYBE_TIME = {"type": ["string", "null"], "description": "RFC 3339 in UTC with Z"}
AMOUNT = {"type": "string", "description": 'euros, an exact decimal string: "2500000.00"'}
MAYBE_AMOUNT = {**AMOUNT, "type": ["string", "null"]}

ROW = {
    "type": "object",
    "description": "A row of `ruhrflow proposal list --format json`.",
    "properties": {
        "key": TEXT,
        "state": TEXT,
        "handlungsfeld": INT,
        "themenforum": INT,
        "lead": TEXT,
        "participating": {"type": "array", "items": TEXT},
        "cost_estimate": MAYBE_AMOUNT,
        "title": TEXT,
        "version": INT,
        "definition_id": INT,
        "state_entered_at": MAYBE_TIME,
        "updated_at": MAYBE_TIME,
        "definition_version": INT,
        "definition_hash": TEXT,
    },
    "required": ["key", "state", "lead", "title", "version"],
}
DETAIL = {
    "type": "object",
    "description": "`ruhrflow proposal show --format json`: the row, its statements and funding.",
    "properties": {
        **ROW["properties"],  # type: ignore[dict-item]
        "summary": MAYBE_TEXT,
        "data": {"type": "object"},
        "funding_secured": MAYBE_AMOUNT,
        "statements": {"type": "array", "items": {"type": "object"}},
        "funding": {
            "type": "array",
            "items": {"type": "object", "properties": {"amount": MAYBE_AMOUNT}},
        },
    },
    "required": ["key", "state", "title", "statements", "funding", "funding_secured"],
}
ENTRY = {
    "type": "object",
    "description": "An entry of `ruhrflow history --format json`.",
    "properties": {
        "key": TEXT,
        "seq": INT,
        "at": TIME,
        "actor": MAYBE_TEXT,
        "kind": TEXT,
        "trigger": TEXT,
        "from_state": MAYBE_TEXT,
        "to_state": MAYBE_TEXT,
        "comment": MAYBE_TEXT,
        "data": {},
        "hash": TEXT,
        "recorded_at": MAYBE_TIME,
    },
    "required": ["seq", "at", "trigger"],
}
TRIGGER = {
    "type": "object",
    "description": "An entry of `ruhrflow triggers --format json` (for the caller).",
    "properties": {
        "trigger": TEXT,
        "label": TEXT,
        "target": TEXT,
        "can_fire": {"type": "boolean"},
        "blocked_by": {"type": "array", "items": TEXT},
        "roles": {"type": "array", "items": TEXT},
        "requires": {"type": "array", "items": TEXT},
    },
    "required": ["trigger", "target", "can_fire", "blocked_by"],
}
ADVANCED = {
    "type": "object",
    "description": "`ruhrflow advance --format json`: an answer per proposal.",
    "properties": {
        "applied": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "key": TEXT,
                    "trigger": TEXT,
                    "from_state": TEXT,
                    "to_state": TEXT,
                    "seq": INT,
                },
                "required": ["key", "trigger", "from_state", "to_state", "seq"],
            },
        },
        "refused": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": TEXT, "reason": TEXT},
                "required": ["key", "reason"],
            },
        },
        "dry_run": {"type": "boolean", "description": "present (true) for a preview"},
    },
    "required": ["applied", "refused"],
}
RECORDED = {
    "type": "object",
    "description": "What was recorded, with its history entry's number (`seq`).",
    "properties": {"key": TEXT, "seq": INT},
    "required": ["key", "seq"],
}
OBJECT = {"type": "object"}
LIST = {"type": "array", "items": OBJECT}
VERIFIED = {
    "type": "object",
    "description": "`ruhrflow audit verify --format json` (`recorded_seq` when recorded).",
    "properties": {
        "ok": {"type": "boolean"},
        "entries": INT,
        "chains": INT,
        "hash": TEXT,
        "heads_digest": MAYBE_TEXT,
        "broken": {"type": ["object", "null"]},
        "checkpoint": {"type": ["object", "null"]},
        "documents": {
            "type": "object",
            "description": "the attached documents hashed again (once the chains hold)",
            "properties": {"checked": INT, "broken": {"type": ["object", "null"]}},
        },
        "recorded_seq": INT,
    },
    "required": ["ok", "entries", "chains", "hash", "broken", "checkpoint"],
}
CREATED = {"type": "object", "properties": {"key": TEXT}, "required": ["key"]}
IMPORTED = {
    "type": "object",
    "properties": {
        "imported": {"type": "array", "items": TEXT},
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": INT, "reason": TEXT},
                "required": ["line", "reason"],
            },
        },
    },
    "required": ["imported", "skipped"],
}
MIGRATION = {
    "to_version": INT,
    "map": {"type": "array", "items": TEXT, "description": "OLD=NEW state pairs"},
    "fields": {"type": "object"},
    "keys": {"type": "array", "items": TEXT},
    "where": {"type": "object", "properties": {"state": TEXT}, "additionalProperties": False},
}
PLAN = {
    "type": "object",
    "description": "`ruhrflow migrate plan --format json`.",
    "properties": {
        "to_version": INT,
        "to_hash": TEXT,
        "proposals": {"type": "array", "items": OBJECT},
    },
    "required": ["to_version", "to_hash", "proposals"],
}
MIGRATED = {
    "type": "object",
    "description": "`ruhrflow migrate apply --format json`: an answer per proposal.",
    "properties": {
        "to_version": INT,
        "applied": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": TEXT, "from_state": TEXT, "to_state": TEXT, "seq": INT},
                "required": ["key", "from_state", "to_state", "seq"],
            },
        },
        "refused": ADVANCED["properties"]["refused"],  # type: ignore[index]
    },
    "required": ["to_version", "applied", "refused"],
}
TOKEN = {
    "type": "object",
    "properties": {"account": TEXT, "token": TEXT, "expires_at": TIME},
    "required": ["account", "token", "expires_at"],
}


def _error(description: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ERROR}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    # 400: a malformed request (a control character in the URL, a body of the wrong shape);
    # 413: a body over 1 MB; 503: the database is unavailable, on every operation.
    return {str(code): _error() for code in sorted({400, 413, 503, *codes})}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _key() -> dict[str, Any]:
    return {"name": "key", "in": "path", "required": True, "schema": TEXT}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            JSON: {"schema": {"type": "object", "properties": properties, "required": required}}
        },
    }


EDITED = {
    "type": "object",
    "properties": {
        "key": TEXT,
        "seq": INT,
        "changes": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"old": {}, "new": {}},
                "required": ["old", "new"],
            },
        },
    },
    "required": ["key", "seq", "changes"],
}
DOCUMENT = {
    "type": "object",
    "description": "A row of `ruhrflow document list --format json`.",
    "properties": {
        "sha256": TEXT,
        "filename": TEXT,
        "content_type": TEXT,
        "size": INT,
        "statement": MAYBE_INT,
        "transition": MAYBE_INT,
        "entry": INT,
        "attached_at": TIME,
    },
    "required": ["sha256", "filename", "content_type", "size", "entry", "attached_at"],
}
ATTACHED = {
    "type": "object",
    "properties": {
        "key": TEXT,
        "seq": INT,
        "sha256": TEXT,
        "filename": TEXT,
        "content_type": TEXT,
        "size": INT,
    },
    "required": ["key", "seq", "sha256", "filename", "content_type", "size"],
}
