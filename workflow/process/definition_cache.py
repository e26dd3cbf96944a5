"""The validated form of a stored definition, kept between processes (issue 29).

Every ``ruhrflow`` command that touches a proposal builds the machine of its definition
version from the YAML text in the database: PyYAML, the section parsers and the checks cost
a cold start more than the transition itself. :func:`definition_of` keeps what
:func:`~workflow.process.definition.parse_definition` returned in a small JSON file and
reads that instead, when the file is for exactly this text, under exactly this parser:

* the file's name is the SHA-256 of the definition text's content hash, the label
  (``ruhr_konferenz v3``) and a fingerprint of the parser — the path, size and modification
  time of every module of this package and of PyYAML (what Python trusts to tell a stale
  ``.pyc``), the cache format — so a new ruhrflow, another PyYAML or another text never
  finds an entry made by the old one;
* the file holds that key, and starts with the SHA-256 of the rest, so a truncated or
  damaged file, or one for another key, is no entry;
* an entry is written only when it reads back to a definition equal to the parsed one, in
  every value and type; the text itself is not stored (the caller has it, and the
  definition's content hash is computed from it again);
* the directory is ``RUHRFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/ruhrflow``, else
  ``~/.cache/ruhrflow`` (subdirectory ``definitions``, mode 0700); a directory or file that
  is not the user's own, or that others may write, is not read.

Whatever goes wrong — no home, a read-only disk, a file another version wrote, a damaged
entry — the text is parsed and validated as before: the cache never changes what a command
does, only how long it takes. A definition with problems is never kept (it raises).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from workflow.process.calendar import Duration
from workflow.process.deadline_rules import DeadlineRule, Rung
from workflow.process.definition import Definition
from workflow.process.notices import NoticeRule
from workflow.process.parts import FieldDef, StateDef, TransitionDef

CACHE_ENV = "RUHRFLOW_CACHE_DIR"
# Bumped whenever the encoding below changes (it is part of the fingerprint).
CACHE_FORMAT = 1
# Entries kept; the oldest go when a new one is written (tests parse many definitions).
MAX_ENTRIES = 64

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Definition, StateDef, FieldDef, TransitionDef, DeadlineRule, Rung, Duration,
                NoticeRule)
}  # fmt: skip


class _NotKept(Exception):
    """A value the cache does not encode: the definition is parsed each time instead."""


def definition_of(text: str, label: str) -> Definition:
    """The validated definition of ``text`` (labelled ``label`` in its problems and its
    ``path``): read from the cache when an entry for exactly this text, label and parser is
    there, else :func:`~workflow.process.definition.parse_definition`, whose result is
    then kept for the next process. Raises InvalidDefinition as ``parse_definition`` does."""
    entry = _entry_path(text, label)
    if entry is not None:
        found = _read(*entry, text)
        if found is not None:
            return found
    from workflow.process.definition import parse_definition

    definition = parse_definition(text, label)
    if entry is not None:
        _write(*entry, definition)
    return definition


# --- where ---------------------------------------------------------------------------------


def cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The directory of the cached definitions (not created here), or None without a home."""
    env = os.environ if env is None else env
    given = env.get(CACHE_ENV)
    if given:
        return Path(given) / "definitions"
    xdg = env.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ruhrflow" / "definitions"
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):
        return None
    return home / ".cache" / "ruhrflow" / "definitions"


def _entry_path(text: str, label: str) -> tuple[Path, list[str]] | None:
    """Where the entry of ``text`` under ``label`` lies, and the key it must hold."""
    try:
        directory = cache_dir()
        fingerprint = _fingerprint()
    except (OSError, ValueError):
        return None
    if directory is None or fingerprint is None:
        return None
    key = [fingerprint, hashlib.sha256(text.encode("utf-8")).hexdigest(), label]
    name = hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()
    return directory / f"{name}.json", key


@lru_cache(maxsize=1)
def _fingerprint() -> str | None:
    """What the parsed form depends on besides the text: the source files of this package
    (every module the parser runs, this one included) and of PyYAML, each by name, size and
    modification time — what Python itself trusts to tell a stale ``.pyc`` — and the
    format of the cache."""
    parts = [f"ruhrflow definition cache {CACHE_FORMAT}"]
    try:
        parts += _files_of(os.path.dirname(os.path.abspath(__file__)), ".py")
        parts += _yaml_files()
    except OSError:
        return None
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _files_of(folder: str, suffix: str = "") -> list[str]:
    """``path:size:mtime`` of each file in ``folder`` whose name ends with ``suffix``."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(suffix) and entry.is_file():
                info = entry.stat()
                found.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")
    return sorted(found)


def _yaml_files() -> list[str]:
    """PyYAML's files (found without importing it: a cached start never does)."""
    from importlib.util import find_spec

    spec = find_spec("yaml")
    if spec is None or spec.origin is None:
        return ["no yaml"]
    return _files_of(os.path.dirname(spec.origin))


# --- reading and writing ---------------------------------------------------------------


def _private(info: os.stat_result) -> bool:
    """The user's own, and nobody else may write it."""
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(entry: Path, key: list[str], text: str) -> Definition | None:
    try:
        if not _private(os.stat(entry.parent)):
            return None
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode) or not _private(info):
                return None
            data = f.read(info.st_size + 1)
        check, _, body = data.partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode("ascii") != check:
            return None
        stored = json.loads(body)
        if stored["key"] != key:  # another text, label or parser: not this one's entry
            return None
        definition = _decode(stored["definition"], text)
    except Exception:  # a damaged or foreign entry is no entry: the text is parsed instead
        return None
    return definition if isinstance(definition, Definition) else None


def _write(entry: Path, key: list[str], definition: Definition) -> None:
    """Keep ``definition`` at ``entry`` (atomically), if it reads back the same."""
    try:
        encoded = _encode(definition)
        if not _same(_decode(encoded, definition.source_text), definition):
            return
        stored = {"key": key, "definition": encoded}
        body = json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (_NotKept, TypeError, ValueError, RecursionError):
        return
    data = hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body
    directory = entry.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(os.stat(directory)):
            return
        temporary = directory / f".{entry.name}.{os.getpid()}.{os.urandom(4).hex()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, entry)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    """Keep the newest MAX_ENTRIES entries (and leftovers of interrupted writes, briefly)."""
    entries = []
    for path in directory.iterdir():
        try:
            entries.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[MAX_ENTRIES:]:
        path.unlink(missing_ok=True)


# --- the encoding: JSON, with tags for what JSON has no word for --------------------------

_SCALARS = (type(None), bool, int, float, str)


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_encode(v) for v in value]
    if kind is tuple:
        return {"t": [_encode(v) for v in value]}
    if kind is dict:
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if kind is date:
        return {"date": value.isoformat()}
    if kind is datetime and type(value.tzinfo) in (type(None), timezone):
        return {"datetime": value.isoformat()}
    if kind is time and value.tzinfo is None:
        return {"time": value.isoformat()}
    if kind is Decimal:
        return {"decimal": str(value)}
    name = kind.__name__
    if _CLASSES.get(name) is kind:
        return {
            "c": name,
            "f": {
                f.name: _encode(getattr(value, f.name))
                for f in fields(value)
                if f.init and not (kind is Definition and f.name == "source_text")
            },
        }
    raise _NotKept(name)


def _decode(value: Any, text: str) -> Any:
    kind = type(value)
    if kind is list:
        return [_decode(v, text) for v in value]
    if kind is not dict:
        return value
    if "t" in value:
        return tuple(_decode(v, text) for v in value["t"])
    if "d" in value:
        return {_decode(k, text): _decode(v, text) for k, v in value["d"]}
    if "c" in value:
        cls = _CLASSES[value["c"]]
        values = {k: _decode(v, text) for k, v in value["f"].items()}
        if cls is Definition:
            values["source_text"] = text
        return cls(**values)
    if "date" in value:
        return date.fromisoformat(value["date"])
    if "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if "time" in value:
        return time.fromisoformat(value["time"])
    if "decimal" in value:
        return Decimal(value["decimal"])
    raise ValueError(f"unknown tag in {sorted(value)}")


def _same(a: Any, b: Any) -> bool:
    """Equal in every value and every type (``1 == 1.0 == True`` is not enough here)."""
    if type(a) is not type(b):
        return False
    if is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            _same(ka, kb) and _same(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:  # NaN
        return bool(b != b)
    return bool(a == b)
