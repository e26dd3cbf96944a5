"""The OpenAPI paths of the rest of the CLI over HTTP and of the tokens
(workflow/web/api/admin.py, tokens.py)."""

from __future__ import annotations

from typing import Any

from workflow.web.openapi.schemas import (
    ENTRY,
    INT,
    LIST,
    MIGRATED,
    MIGRATION,
    OBJECT,
    PLAN,
    TEXT,
    TOKEN,
    VERIFIED,
    _body,
    _errors,
    _key,
    _ok,
    _query,
)


def admin_paths(read: dict[str, Any], write: dict[str, Any]) -> dict[str, Any]:
    """The paths of deadlines, notices, audit, reports, migrations and tokens."""
    return {
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
                "summary": "Move an open deadline to another day (as `ruhrflow deadlines move`)",
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
    }
