"""The import graph: no cycle among project modules, and the layers of the tree hold.

Given the import graph of ``workflow`` and ``notifications`` as grimp (import-linter's graph
library) builds it — function-level imports included, only ``if TYPE_CHECKING:`` imports
left out, since they never run —
then no module reaches itself again by following imports.

The tools are part of the ``dev`` extra: when grimp or ``lint-imports`` is missing these
tests fail (an architecture check that skips proves nothing).

No module inside the packages imports through the lazy top level (``from workflow import
Engine``): such an import goes through ``workflow/__init__.py``'s ``__getattr__``, so grimp
sees an edge to ``workflow`` and none to the module the name comes from, and the layers
contract cannot see it (issue 28: a planted one in the store passed ``lint-imports``).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("workflow", "notifications")


def _import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(
        "workflow", "notifications", exclude_type_checking_imports=True, cache_dir=None
    )
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative Tarjan: the graph has hundreds of modules
        nonlocal counter
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    # given a graph a -> b -> c -> a and d -> a
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    # then the one cycle is found, without d
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_project_modules() -> None:
    # given every import of the project, function-level ones included
    edges = _import_graph()
    # then no module imports itself through others
    assert _cycles(edges) == []


def test_the_layers_contract_holds() -> None:
    # given the contracts in pyproject.toml and import-linter installed (the dev extra)
    assert LINT_IMPORTS.exists(), f"import-linter is not installed: no {LINT_IMPORTS}"
    # when lint-imports checks them, then all are kept
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _lint_imports(cwd: Path, *, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contracts_hold_with_type_checking_imports(tmp_path: Path) -> None:
    # given the contracts of pyproject.toml with the imports under `if TYPE_CHECKING:`
    # included (.ci/run's second run: such an import pointing upward went unchecked)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    setting = "\nexclude_type_checking_imports = true\n"
    assert setting in text
    config = tmp_path / "contracts-with-typing.toml"
    config.write_text(
        text.replace(setting, "\nexclude_type_checking_imports = false\n"), encoding="utf-8"
    )
    # when lint-imports checks them, then all are kept
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_planted_top_level_import_in_the_store_breaks_a_contract(tmp_path: Path) -> None:
    # given a copy of the packages and their contracts, with `from workflow import Engine`
    # planted in the store (issue 28: such a line once passed lint-imports)
    assert LINT_IMPORTS.exists(), f"import-linter is not installed: no {LINT_IMPORTS}"
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    repo = tmp_path / "workflow" / "store" / "repo.py"
    planted = repo.read_text(encoding="utf-8") + "\nfrom workflow import Engine  # noqa\n"
    repo.write_text(planted, encoding="utf-8")
    # when lint-imports checks the copy
    done = _lint_imports(tmp_path, pythonpath=tmp_path)
    # then a contract is broken, and the report names the planted import
    assert done.returncode == 1, done.stdout + done.stderr
    assert "workflow.store.repo -> workflow (l." in done.stdout, done.stdout


def _top_level_imports(source: str) -> list[int]:
    """The lines of ``source`` that import from the package ``workflow`` itself
    (``from workflow import X``, ``import workflow``), anywhere: at module level, in a
    function, under ``if TYPE_CHECKING:``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names = [node.module] if node.level == 0 else []
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if "workflow" in names:
            found.append(node.lineno)
    return sorted(found)


def test_the_finder_sees_every_form_of_the_top_level_import() -> None:
    # given imports through the top level in three places, and two that are not
    source = (
        "from workflow import Engine\n"
        "import workflow\n"
        "def f():\n"
        "    from workflow import (\n"
        "        Store,\n"
        "    )\n"
        "from workflow.store.db import Store\n"
        "import workflow.errors\n"
    )
    # then exactly the three are found
    assert _top_level_imports(source) == [1, 2, 4]


def test_no_module_imports_through_the_lazy_top_level() -> None:
    # given every module of the packages except the top level's own __init__
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == "workflow/__init__.py":
                continue
            lines = _top_level_imports(path.read_text(encoding="utf-8"))
            if lines:
                offenders[name] = lines
    # then none imports from `workflow` itself: they name the module that defines the name
    assert offenders == {}, f"import from the defining module, not `workflow`: {offenders}"
