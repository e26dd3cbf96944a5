"""The definition a proposal's page and forms come from: its registered version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.process.definition import Definition
from workflow.web.state import web


def definition_of(detail: Mapping[str, Any]) -> Definition:
    """The registered definition version of the proposal ``detail`` describes."""
    return web().definition
