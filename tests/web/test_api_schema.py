"""The API keeps the promises of its own OpenAPI document, tested by a real client.

Schemathesis reads ``/api/openapi.json`` from the app and sends each operation requests made
from its declared parameters and bodies — valid ones and invalid ones — as the coordination
office (a bearer token). Every answer must have a declared status, content type, headers and
schema, and none may be a 5xx. The examples are few and derandomised, so that the run stays
well under a minute and fails the same way twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from workflow import Runtime
from workflow.access import accounts

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 5}


def test_every_answer_is_as_the_openapi_document_declares(app: Flask, runtime: Runtime) -> None:
    # given the app with its round of proposals and a token of the coordination office
    _, token = accounts.create_token(runtime.store, "koordination", datetime.now(UTC),
                                     expires_in=None)  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    # when every operation gets generated requests, valid and invalid
    # then every answer is one the document declares, and none is a server error
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            _run(operation, mode, examples, headers)


def _run(operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
