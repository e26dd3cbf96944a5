"""YAML with line numbers: a definition file read into values, each key path's line kept.

Every problem of a definition names its file, line and key path; this reader composes the
YAML node tree (libyaml when PyYAML has it) and turns it into plain values while it records
the line of every key. It refuses what a definition has no use for and what could cost
exponential time (anchors and aliases), and reports duplicate keys.
"""

from __future__ import annotations

from typing import Any

import yaml

from workflow.errors import InvalidDefinition, Problem


class _Refused(Exception):
    """A YAML construct the reader will not turn into values."""

    def __init__(self, node: yaml.Node, path: str, message: str) -> None:
        super().__init__(message)
        self.line = node.start_mark.line + 1
        self.path = path
        self.message = message


class _Reader:
    """Turns a composed YAML node tree into Python values, remembering key lines."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()
        self._seen: set[int] = set()

    def value(self, node: yaml.Node, path: str) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            # A node met twice is an alias: a definition has no use for them, and expanding
            # nested aliases ("billion laughs") would cost exponential time.
            if id(node) in self._seen:
                raise _Refused(
                    node, path or "(document)", "YAML anchors and aliases are not allowed"
                )
            self._seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _Refused(key_node, path or "(document)", "a key must be a plain name")
                key = self._constructor.construct_object(key_node, deep=True)
                sub = f"{path}.{key}" if path else str(key)
                if key in result:
                    self.problems.append(
                        Problem(self.file, key_node.start_mark.line + 1, sub, "duplicate key")
                    )
                self.lines[sub] = key_node.start_mark.line + 1
                result[key] = self.value(value_node, sub)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # a date that does not exist: 2019-02-30
            message = f"{node.value!r} is no valid value: {exc}"
            raise _Refused(node, path or "(document)", message) from None


def one_line(value: object) -> str:
    """An error text on one line (PyYAML's own messages span several)."""
    return " ".join(str(value).split())


# libyaml's composer when PyYAML has it (the same nodes and marks, ~10× faster: a cold
# `ruhrflow advance` parses the stored definition once), else the pure-Python one.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str, file: str) -> tuple[Any, dict[str, int], list[Problem]]:
    reader = _Reader(file)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InvalidDefinition(
            [Problem(file, line, "(yaml)", f"not valid YAML: {one_line(exc.problem or exc)}")]
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidDefinition(
            [Problem(file, None, "(yaml)", f"not valid YAML: {one_line(exc)}")]
        ) from None
    if node is None:
        raise InvalidDefinition([Problem(file, 1, "(document)", "the file is empty")])
    try:
        data = reader.value(node, "")
    except _Refused as exc:
        raise InvalidDefinition([Problem(file, exc.line, exc.path, exc.message)]) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise InvalidDefinition(
            [Problem(file, mark.line + 1 if mark else None, "(yaml)", str(exc.problem))]
        ) from None
    return data, reader.lines, reader.problems
