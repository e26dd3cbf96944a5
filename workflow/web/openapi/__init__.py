"""The OpenAPI 3.1 document of the JSON API (``/api/openapi.json``).

Written by hand next to the endpoints rather than derived from them: the document is a
promise to clients (``ruhrflow --server`` is one), and tests/web/test_api_schema.py holds the
API to it with Schemathesis — every answer of every operation has a declared status and
matches its declared schema, and none is a 5xx.
"""

from __future__ import annotations

from typing import Any

from workflow.web.openapi.admin import admin_paths
from workflow.web.openapi.documents import document_paths
from workflow.web.openapi.proposals import proposal_paths
from workflow.web.openapi.schemas import ERROR, _errors


def document(default_limit: int, max_limit: int) -> dict[str, Any]:
    """The document, with the list's paging limits: built from each blueprint's paths."""
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
            **proposal_paths(default_limit, max_limit),
            **admin_paths(read, write),
            **document_paths(read, write),
        },
    }
