"""The OpenAPI paths of the documents (workflow/web/documents.py)."""

from __future__ import annotations

from typing import Any

from workflow.web.openapi.schemas import (
    ATTACHED,
    DOCUMENT,
    TEXT,
    _error,
    _key,
    _ok,
)


def document_paths(read: dict[str, Any], write: dict[str, Any]) -> dict[str, Any]:
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
