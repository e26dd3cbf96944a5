"""docs/architecture.md names only what exists: a page that goes stale fails here.

Its references, in backticks, take three forms (the page says so at its top):

* a path under one of :data:`PATH_ROOTS` (``workflow/engine/unit.py``, ``notifications/templates/``)
  exists;
* ``path.py:Name.attr`` — the module at that path defines ``Name`` with attribute ``attr``;
* a dotted name starting with a package (``workflow.engine.effects``,
  ``workflow.process.guards.REGISTRY``) imports: the longest importable prefix, then attributes.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("workflow", "notifications")
PATH_ROOTS = (*PACKAGES, "tests", "docs", "bench", "definitions", "config")

CODE = re.compile(r"`([^`\n]+)`")
_ROOTS = "|".join(PATH_ROOTS)
_PACKAGES = "|".join(PACKAGES)
PATH = re.compile(rf"(?:{_ROOTS})/[\w./-]*")
PATH_AND_NAME = re.compile(rf"((?:{_PACKAGES})/[\w/]+\.py):([A-Za-z_][\w.]*)")
DOTTED = re.compile(rf"(?:{_PACKAGES})(?:\.[A-Za-z_]\w*)+")


def _spans() -> list[str]:
    return CODE.findall(DOC.read_text(encoding="utf-8"))


def _resolve(module_name: str, attributes: list[str]) -> object:
    """``module_name`` imported and ``attributes`` looked up in turn (AttributeError if not)."""
    found: object = importlib.import_module(module_name)
    for name in attributes:
        found = getattr(found, name)
    return found


def _resolve_dotted(dotted: str) -> object:
    """The longest importable module prefix of ``dotted``, then the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                continue  # this prefix is no module: try a shorter one
            raise
        return _resolve(module_name, parts[cut:])
    raise ModuleNotFoundError(dotted)


def test_the_page_uses_each_form_of_reference() -> None:
    spans = _spans()
    assert sum(bool(PATH.fullmatch(s)) for s in spans) >= 30
    assert sum(bool(PATH_AND_NAME.fullmatch(s)) for s in spans) >= 30
    assert sum(bool(DOTTED.fullmatch(s)) for s in spans) >= 3


def test_every_path_exists() -> None:
    missing = [
        s
        for s in _spans()
        if (PATH.fullmatch(s) or PATH_AND_NAME.fullmatch(s))
        and not (ROOT / s.partition(":")[0]).exists()
    ]
    assert missing == []


def test_every_span_that_looks_like_a_reference_has_a_checked_form() -> None:
    """A span starting with a package is a path, a path with a name or a dotted name:
    nothing like ``workflow/engine/*.py`` or ``workflow/…`` slips past the checks."""
    starts = tuple(f"{p}{sep}" for p in PACKAGES for sep in "/.")
    unchecked = [
        s
        for s in _spans()
        if s.startswith(starts)
        and not (PATH.fullmatch(s) or PATH_AND_NAME.fullmatch(s) or DOTTED.fullmatch(s))
    ]
    assert unchecked == []


@pytest.mark.parametrize("reference", sorted({s for s in _spans() if PATH_AND_NAME.fullmatch(s)}))
def test_every_named_function_is_defined_in_its_file(reference: str) -> None:
    path, _, qualname = reference.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    found = _resolve(module_name, qualname.split("."))
    if isinstance(found, click.Command):  # a command: the function it runs
        found = found.callback
    if inspect.isfunction(found) or inspect.isclass(found) or inspect.ismethod(found):
        # a name imported into the module does not count: it must be defined there
        assert found.__module__ == module_name, (reference, found.__module__)


@pytest.mark.parametrize("reference", sorted({s for s in _spans() if DOTTED.fullmatch(s)}))
def test_every_dotted_name_resolves(reference: str) -> None:
    assert _resolve_dotted(reference) is not None
