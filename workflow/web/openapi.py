"""The OpenAPI 3.1 document of the JSON API (``/api/openapi.json``).

Written by hand next to the endpoints rather than derived from them: the document is a
promise to clients (``ruhrflow --server`` is one), and tests/web/test_api_schema.py holds the
API to it with Schemathesis — every answer of every operation has a declared status and
matches its declared schema, and none is a 5xx.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
ERROR = {
    "type": "object",
    "description": "Every error: one line of English, the status says what went wrong.",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
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


def document(default_limit: int, max_limit: int) -> dict[str, Any]:
    """The document, with the list's paging limits."""
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
        for name, kind in (
            ("state", "string"),
            ("lead", "string"),
            ("handlungsfeld", "integer"),
            ("themenforum", "integer"),
            ("q", "string"),
            ("definition_version", "integer"),
        )
    ]
    paging = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"rows per page (at most {max_limit}; more is read as {max_limit})",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": max_limit,
                "default": default_limit,
            },
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "rows to skip (follow the Link header rather than counting)",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
    ]
    next_link = {
        "Link": {
            "description": 'the next page, `<URL>; rel="next"`, while there is one',
            "schema": TEXT,
        }
    }
    read = _errors(401, 404)
    write = _errors(401, 403, 404, 409, 422)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ruhrflow API",
            "version": "1",
            "description": (
                "The CLI's operations over HTTP, as the token's (or the session's) account."
                " Every change is one transaction of the engine, with the CLI's permissions"
                " and guards. `ruhrflow --server URL` is a client of this API."
            ),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ruhrflow_session"},
            },
            "schemas": {"Error": ERROR},
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/proposals": {
                "post": {
                    "summary": "Add a proposal in the initial state (as `ruhrflow proposal add`)",
                    "requestBody": _body(
                        {
                            "title": TEXT,
                            "handlungsfeld": INT,
                            "themenforum": INT,
                            "lead": TEXT,
                            "key": TEXT,
                            "cost": AMOUNT,
                            "participating": {"type": "array", "items": TEXT},
                            "summary": TEXT,
                        },
                        ["title", "handlungsfeld", "themenforum", "lead"],
                    ),
                    "responses": {"201": _ok(CREATED, "Created"), **write},
                },
                "get": {
                    "summary": "A page of proposals (as `ruhrflow proposal list --format json`)",
                    "parameters": filters + paging,
                    "responses": {
                        "200": {
                            **_ok({"type": "array", "items": ROW}),
                            "headers": next_link,
                        },
                        **_errors(401),
                    },
                },
            },
            "/api/proposals/import": {
                "post": {
                    "summary": "Import proposals from a UTF-8 CSV (as `ruhrflow proposal import`):"
                    " all or nothing unless `skip_invalid`",
                    "parameters": [
                        _query("skip_invalid", {"type": "boolean"}, "import the good rows")
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    "responses": {"200": _ok(IMPORTED), **write},
                }
            },
            "/api/proposals/{key}": {
                "get": {
                    "summary": "One proposal (as `ruhrflow proposal show --format json`)",
                    "parameters": [_key()],
                    "responses": {"200": _ok(DETAIL), **read},
                },
                "patch": {
                    "summary": "Correct fields, one history entry with old and new values (as"
                    " `ruhrflow proposal edit`)",
                    "parameters": [_key()],
                    "requestBody": _body(
                        {
                            "set": {
                                "type": "object",
                                "properties": {
                                    "title": TEXT,
                                    "summary": TEXT,
                                    "cost_estimate": MAYBE_AMOUNT,
                                    "participating": {"type": "array", "items": TEXT},
                                    "handlungsfeld": INT,
                                },
                                "additionalProperties": False,
                            },
                            "comment": TEXT,
                        },
                        ["set"],
                    ),
                    "responses": {"200": _ok(EDITED), **write},
                },
            },
            "/api/proposals/{key}/triggers": {
                "get": {
                    "summary": "What can happen next, for the caller (as `ruhrflow triggers`)",
                    "parameters": [
                        _key(),
                        {
                            "name": "set",
                            "in": "query",
                            "required": False,
                            "description": "FIELD=VALUE: check as if given (repeatable)",
                            "schema": {"type": "array", "items": TEXT},
                            "style": "form",
                            "explode": True,
                        },
                        {
                            "name": "comment",
                            "in": "query",
                            "required": False,
                            "description": "check as if this comment were given",
                            "schema": TEXT,
                        },
                    ],
                    "responses": {
                        "200": _ok({"type": "array", "items": TRIGGER}),
                        **_errors(401, 404, 422),
                    },
                }
            },
            "/api/proposals/{key}/history": {
                "get": {
                    "summary": "The history (as `ruhrflow history --format json`)",
                    "parameters": [_key()],
                    "responses": {"200": _ok({"type": "array", "items": ENTRY}), **read},
                }
            },
            "/api/proposals/{key}/advance": {
                "post": {
                    "summary": "Fire a trigger on one proposal as the caller",
                    "parameters": [_key()],
                    "requestBody": _body(
                        {
                            "trigger": TEXT,
                            "comment": TEXT,
                            "fields": {"type": "object"},
                            "expected_version": INT,
                        },
                        ["trigger"],
                    ),
                    "responses": {"200": _ok(DETAIL), **write},
                }
            },
            "/api/advance": {
                "post": {
                    "summary": (
                        "Fire a trigger on proposals named by `keys` or by `where: {state}`, in"
                        " one transaction (as `ruhrflow advance`): all or nothing unless"
                        " `partial`; `dry_run` checks and rolls back"
                    ),
                    "requestBody": _body(
                        {
                            "trigger": {"type": "string", "minLength": 1},
                            "keys": {"type": "array", "items": {"type": "string"}},
                            "where": {
                                "type": "object",
                                "properties": {"state": TEXT},
                                "additionalProperties": False,
                            },
                            "comment": TEXT,
                            "fields": {"type": "object"},
                            "partial": {"type": "boolean"},
                            "dry_run": {"type": "boolean"},
                        },
                        ["trigger"],
                    ),
                    "responses": {"200": _ok(ADVANCED), **write},
                }
            },
            "/api/proposals/{key}/statements": {
                "post": {
                    "summary": "Record a consultation statement (as `ruhrflow consult record`)",
                    "parameters": [_key()],
                    "requestBody": _body(
                        {"party": TEXT, "group": TEXT, "position": TEXT, "text": TEXT},
                        ["party", "group", "position"],
                    ),
                    "responses": {"201": _ok(RECORDED, "Recorded"), **write},
                }
            },
            "/api/proposals/{key}/funding": {
                "post": {
                    "summary": "Add a funding line (as `ruhrflow funding add`)",
                    "parameters": [_key()],
                    "requestBody": _body(
                        {
                            "source": TEXT,
                            "amount": AMOUNT,
                            "year": INT,
                            "secured": {"type": "boolean"},
                        },
                        ["source", "amount", "year"],
                    ),
                    "responses": {"201": _ok(RECORDED, "Recorded"), **write},
                }
            },
            "/api/deadlines": {
                "get": {
                    "summary": "Open deadlines, soonest first (as `ruhrflow deadlines`)",
                    "parameters": [
                        _query("overdue", {"type": "boolean"}, "only those already due"),
                        _query("due_within", TEXT, "due from now to then: 14d, 10wd, 2w, 1mo"),
                        _query("lead", TEXT, "only proposals of this lead ministry"),
                    ],
                    "responses": {"200": _ok(LIST), **_errors(401, 422)},
                }
            },
            "/api/proposals/{key}/deadlines/{kind}/move": {
                "post": {
                    "summary": "Move an open deadline to another day (as `ruhrflow deadlines"
                    " move`)",
                    "parameters": [
                        _key(),
                        {"name": "kind", "in": "path", "required": True, "schema": TEXT},
                    ],
                    "requestBody": _body(
                        {"to": {"type": "string", "format": "date"}, "reason": TEXT},
                        ["to", "reason"],
                    ),
                    "responses": {"200": _ok(OBJECT), **write},
                }
            },
            "/api/notices": {
                "get": {
                    "summary": "The outbox, newest first (as `ruhrflow notices list`;"
                    " coordinators and auditors)",
                    "parameters": [
                        _query(
                            "status",
                            {"type": "string", "enum": ["pending", "sending", "sent", "failed"]},
                            "only notices in this status",
                        ),
                        _query("limit", {"type": "integer", "minimum": 1}, "at most this many"),
                    ],
                    "responses": {"200": _ok(LIST), **_errors(401, 403)},
                }
            },
            "/api/audit/verify": {
                "post": {
                    "summary": "Re-compute every hash chain (as `ruhrflow audit verify`); with"
                    " `record` the result is recorded as the caller's (auditors, coordinators)",
                    "requestBody": _body({"checkpoint": TEXT, "record": {"type": "boolean"}}, []),
                    "responses": {"200": _ok(VERIFIED), **_errors(401, 403, 422)},
                }
            },
            "/api/audit/checkpoint": {
                "post": {
                    "summary": "One digest over all chain heads, recorded (as `ruhrflow audit"
                    " checkpoint`; auditors, coordinators)",
                    "responses": {"200": _ok(OBJECT), **_errors(401, 403)},
                }
            },
            "/api/audit/export": {
                "get": {
                    "summary": "Every history entry with its hashes, for verification offline"
                    " (as `ruhrflow audit export`; auditors, coordinators)",
                    "parameters": [
                        _query("format", {"type": "string", "enum": ["jsonl", "csv"]}, "format"),
                        _query("delimiter", {"type": "string", "enum": [",", ";"]}, "CSV cells"),
                        _query("bom", {"type": "boolean"}, "CSV: a byte order mark first"),
                    ],
                    "responses": {
                        "200": {
                            "description": "The export; what it holds in the X-Ruhrflow-* headers",
                            "content": {
                                "application/jsonl": {"schema": TEXT},
                                "text/csv": {"schema": TEXT},
                            },
                            "headers": {
                                name: {"schema": schema}
                                for name, schema in (
                                    ("X-Ruhrflow-Rows", INT),
                                    ("X-Ruhrflow-Chains", INT),
                                    ("X-Ruhrflow-Heads-Digest", TEXT),
                                )
                            },
                        },
                        **_errors(401, 403, 422),
                    },
                }
            },
            "/api/audit/log": {
                "get": {
                    "summary": "History entries of one chain or all, oldest first (as `ruhrflow"
                    " audit log`; auditors, coordinators)",
                    "parameters": [
                        _query("key", TEXT, "one proposal's chain (or @system)"),
                        _query("since", {"type": "string", "format": "date-time"}, "from"),
                        _query("until", {"type": "string", "format": "date-time"}, "before"),
                        _query("actor", TEXT, "only entries by this actor id or pseudonym"),
                        _query("trigger", TEXT, "only entries with this trigger"),
                    ],
                    "responses": {
                        "200": _ok({"type": "array", "items": ENTRY}),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/api/reports/{name}": {
                "get": {
                    "summary": "A progress report (as `ruhrflow report status|lead-times|overdue"
                    "|stuck`)",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "enum": ["status", "lead-times", "overdue", "stuck"],
                            },
                        },
                        _query("as_of", {"type": "string", "format": "date"}, "end of this day"),
                        _query("days", {"type": "integer", "minimum": 1}, "stuck: idle days"),
                    ],
                    "responses": {
                        "200": _ok({"type": ["object", "array"]}),
                        **_errors(401, 404, 422),
                    },
                }
            },
            "/api/migrations/plan": {
                "post": {
                    "summary": "What moving proposals to a definition version would do (as"
                    " `ruhrflow migrate plan`; writes nothing)",
                    "requestBody": _body(MIGRATION, ["to_version"]),
                    "responses": {"200": _ok(PLAN), **_errors(401, 404, 409, 422)},
                }
            },
            "/api/migrations/apply": {
                "post": {
                    "summary": "Move proposals to a definition version in one transaction (as"
                    " `ruhrflow migrate apply`; coordinators)",
                    "requestBody": _body(
                        {**MIGRATION, "comment": TEXT, "partial": {"type": "boolean"}},
                        ["to_version"],
                    ),
                    "responses": {"200": _ok(MIGRATED), **write},
                }
            },
            "/api/tokens": {
                "post": {
                    "summary": "A token for an account and its password (as `ruhrflow login`)",
                    "security": [],
                    "requestBody": _body(
                        {
                            "account": TEXT,
                            "password": TEXT,
                            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650},
                        },
                        ["account", "password"],
                    ),
                    "responses": {
                        "201": _ok(TOKEN, "Created: the token is shown this once"),
                        **_errors(401, 429),
                    },
                }
            },
            **_documents(read, write),
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


def _documents(read: dict[str, Any], write: dict[str, Any]) -> dict[str, Any]:
    """The paths of workflow/web/documents.py."""
    sha = {"name": "sha256", "in": "path", "required": True, "schema": TEXT}
    upload = {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "statement": {"type": "integer", "minimum": 1},
            "transition": {"type": "integer", "minimum": 1},
            "comment": TEXT,
        },
        "required": ["file"],
    }
    return {
        "/api/proposals/{key}/documents": {
            "get": {
                "summary": "The documents of a proposal (as `ruhrflow document list`)",
                "parameters": [_key()],
                "responses": {"200": _ok({"type": "array", "items": DOCUMENT}), **read},
            },
            "post": {
                "summary": "Attach a document, checked by content (as `ruhrflow document add`)",
                "parameters": [_key()],
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": upload}},
                },
                "responses": {"201": _ok(ATTACHED, "Attached"), **write},
            },
        },
        "/api/proposals/{key}/documents/{sha256}": {
            "get": {
                "summary": "A document's bytes, its SHA-256 checked (as `ruhrflow document get`)",
                "parameters": [_key(), sha],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **read,
                    "409": _error("Changed or missing in store: not served"),
                    "422": _error("Not a SHA-256"),
                },
            }
        },
    }
