"""The OpenAPI paths of the proposals: the list, one proposal, its triggers and history, and
what changes them (workflow/web/api/proposals.py)."""

from __future__ import annotations

from typing import Any

from workflow.web.openapi.schemas import (
    ADVANCED,
    AMOUNT,
    CREATED,
    DETAIL,
    EDITED,
    ENTRY,
    IMPORTED,
    INT,
    MAYBE_AMOUNT,
    RECORDED,
    ROW,
    TEXT,
    TRIGGER,
    _body,
    _error,
    _errors,
    _key,
    _ok,
    _query,
)


def proposal_paths(default_limit: int, max_limit: int) -> dict[str, Any]:
    """The paths of the proposals, with the list's paging limits."""
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
                        "source": TEXT,
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
                    "422": _error("An unknown definition version (as the CLI says)"),
                },
            },
        },
        "/api/proposals/import": {
            "post": {
                "summary": "Import proposals from a UTF-8 CSV (as `ruhrflow proposal import`):"
                " all or nothing unless `skip_invalid`",
                "parameters": [_query("skip_invalid", {"type": "boolean"}, "import the good rows")],
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
    }
