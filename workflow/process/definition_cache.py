"""The validated form of a stored definition, kept between processes (issue 29).

Every ``ruhrflow`` command that touches a proposal builds the machine of its definition
version from the YAML text in the database: PyYAML, the section parsers and the checks cost
a cold start more than the transition itself. :func:`definition_of` keeps what
:func:`~workflow.process.definition.parse_definition` returned in a small JSON file and
reads that instead, when the file is for exactly this text, under exactly this parser.

**Only where it is switched on.** The cache is off unless :func:`enable` was called, and
only the start-up of a short-lived command a person runs does that
(:func:`workflow.cli.startup.one_shot`: ``advance``, ``proposal show`` and the like, in a
process ``ruhrflow``'s own entry point started). Library use — ``open_runtime`` from other
code, the web application and its gunicorn workers, ``scheduler run`` and ``tick``, the
service's mail and publishing jobs, ``demo``, the tests' engines — parses the text as before:
those processes parse once and then live long, and several of them run as the service's
account. Why that is safe: the definitions, and with them the process rules (permissions,
guards, routing), belong to the database, and on PostgreSQL only its owner may change them.
A file that says what a definition means must therefore not let anyone act with rules that
login could not set. A person's one-shot command runs with that person's own database
login, under their own account; whoever can write that account's cache file can run
``ruhrflow`` — or any SQL client — as that person with that login anyway: the file decides
nothing that its writer could not already do, and no entry is ever read by another user
(the directory and the files must be the user's own and writable by nobody else; as root —
``sudo -E`` with someone else's ``HOME`` — there is no cache at all). The service's own
jobs, whose account holds the service login, never read it.

How an entry is found and trusted:

* its name is the SHA-256 of the definition text's content hash, the label
  (``ruhr_konferenz v3``) and a fingerprint of the parser: ruhrflow's version, the cache
  format, Python's bytecode tag, and the path, size and modification time (what Python
  trusts to tell a stale ``.pyc``) of every module the parser runs — all of
  ``workflow/process``, ``workflow/errors.py``, ``workflow/inputs.py``,
  ``workflow/version.py`` — and of PyYAML's files. A module that is not there as source (an
  install of ``.pyc`` files only) means no fingerprint, and no cache;
* the fingerprint is taken when the cache is switched on, as the command starts, and again
  before an entry is written: a file that changed in between (an upgrade in place) means
  the entry is not written, so what old code parsed never lands under the new fingerprint;
* the file holds that key, and starts with the SHA-256 of the rest, so a truncated or
  damaged file, or one for another key, is no entry (a checksum, not a signature: the
  protection is whose file it is, above);
* an entry is written only when it reads back to a definition equal to the parsed one, in
  every value and type; the text itself is not stored (the caller has it, and the
  definition's content hash is computed from it again);
* the directory is ``RUHRFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/ruhrflow``, else
  ``~/.cache/ruhrflow`` (subdirectory ``definitions``, mode 0700). It and its parent are
  opened without following a symbolic link, and used only when both are the user's own and
  nobody else may write them; everything is done relative to that open directory. Only
  files named as entries (64 hex digits and ``.json``) and this module's own unfinished
  writes are ever removed from it (at most MAX_ENTRIES entries are kept).

Whatever goes wrong — no home, a read-only disk, a file another version wrote, a damaged
entry — the text is parsed and validated as before: the cache never changes what a command
does, only how long it takes. A definition with problems is never kept (it raises).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflow.process.calendar import Duration
from workflow.process.deadline_rules import DeadlineRule, Rung
from workflow.process.definition import Definition
from workflow.process.notices import NoticeRule
from workflow.process.parts import FieldDef, StateDef, TransitionDef
from workflow.version import __version__

CACHE_ENV = "RUHRFLOW_CACHE_DIR"
# Bumped whenever the encoding below changes (it is part of the fingerprint).
CACHE_FORMAT = 2
# Entries kept; the oldest go when a new one is written (tests parse many definitions).
MAX_ENTRIES = 64

# What parse_definition runs, relative to the package ``workflow``: the modules of
# workflow/process it imports (definition, sections, parts, yaml_lines, deadline_rules,
# fields, formats, calendar, notices, guards, german, vocabulary; this one for the
# encoding), and outside it the errors and the input checks (check_text, read_file_bytes).
# Every one must be there as source, or there is no fingerprint; any further module of
# workflow/process counts as well.
PROCESS_MODULES = frozenset({
    "__init__.py", "calendar.py", "deadline_rules.py", "definition.py",
    "definition_cache.py", "fields.py", "formats.py", "german.py", "guards.py",
    "notices.py", "parts.py", "sections.py", "vocabulary.py", "yaml_lines.py",
})  # fmt: skip
OTHER_MODULES = ("__init__.py", "errors.py", "inputs.py", "version.py")

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Definition, StateDef, FieldDef, TransitionDef, DeadlineRule, Rung, Duration,
                NoticeRule)
}  # fmt: skip

_HEX = frozenset("0123456789abcdef")
# Where a directory cannot be opened without following links and then worked in (no
# O_NOFOLLOW, no dir_fd: Windows), there is no cache.
_SUPPORTED = (
    hasattr(os, "O_DIRECTORY")
    and hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "geteuid")
    and {os.open, os.mkdir, os.unlink, os.rename} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
)
_DIRECTORY = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

# The parser's fingerprint when enable() switched the cache on; None: the cache is off.
_started: str | None = None


class _NotKept(Exception):
    """A value the cache does not encode: the definition is parsed each time instead."""


def enable() -> bool:
    """Switch the cache on for this process, and take the parser's fingerprint. Only for a
    short-lived command a person runs (see the module's doc); never as root. Returns
    whether it is on."""
    global _started
    _started = _fingerprint() if _SUPPORTED and not _as_root() else None
    return _started is not None


def enabled() -> bool:
    """Whether :func:`enable` switched the cache on in this process."""
    return _started is not None


def definition_of(text: str, label: str) -> Definition:
    """The validated definition of ``text`` (labelled ``label`` in its problems and its
    ``path``): with the cache on, read from it when an entry for exactly this text, label
    and parser is there; else :func:`~workflow.process.definition.parse_definition`, whose
    result is then kept for the next process. Raises InvalidDefinition as
    ``parse_definition`` does."""
    from workflow.process import definition as module

    fingerprint = _started
    if fingerprint is None:
        return module.parse_definition(text, label)
    name, key = _entry(text, label, fingerprint)
    found = _read(name, key, text)
    if found is not None:
        return found
    definition = module.parse_definition(text, label)
    _write(name, key, definition)
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


def _entry(text: str, label: str, fingerprint: str) -> tuple[str, list[str]]:
    """The file name of the entry of ``text`` under ``label``, and the key it must hold."""
    key = [fingerprint, hashlib.sha256(text.encode("utf-8")).hexdigest(), label]
    return hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest() + ".json", key


def _fingerprint() -> str | None:
    """What the parsed form depends on besides the text (see the module's doc), or None
    when a module the parser runs is not there as source."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [f"ruhrflow definition cache {CACHE_FORMAT}", __version__,
             str(sys.implementation.cache_tag)]  # fmt: skip
    try:
        process = _files_of(os.path.join(package, "process"), ".py")
        if not {os.path.basename(line[0]) for line in process} >= PROCESS_MODULES:
            return None
        parts += (f"{path}:{size}:{mtime}" for path, size, mtime in process)
        for name in OTHER_MODULES:
            path = os.path.join(package, name)
            info = os.stat(path)
            parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
        yaml = _yaml_files()
    except OSError:
        return None
    if not yaml:
        return None
    parts += (f"{path}:{size}:{mtime}" for path, size, mtime in yaml)
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _files_of(folder: str, suffix: str = "") -> list[tuple[str, int, int]]:
    """Path, size and modification time of each file in ``folder`` whose name ends with
    ``suffix``."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(suffix) and entry.is_file():
                info = entry.stat()
                found.append((entry.path, info.st_size, info.st_mtime_ns))
    return sorted(found)


def _yaml_files() -> list[tuple[str, int, int]]:
    """PyYAML's files (found without importing it: a cached start never does); none when
    it is not installed."""
    from importlib.util import find_spec

    spec = find_spec("yaml")
    if spec is None or spec.origin is None:
        return []
    return _files_of(os.path.dirname(spec.origin))


# --- the directory -------------------------------------------------------------------------


def _as_root() -> bool:
    """Running as root: with a ``HOME`` or a variable someone else may have set (``sudo -E``);
    no cache at all."""
    return os.geteuid() == 0


def _private(info: os.stat_result) -> bool:
    """The user's own, and nobody else may write it."""
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_directory(*, create: bool) -> int | None:
    """A descriptor of the cache directory, opened without following a symbolic link at
    it or its parent, when both are the user's own and nobody else may write them (made,
    mode 0700, if ``create``); else None. Never as root."""
    where = cache_dir()
    if where is None or _as_root():
        return None
    if create:
        os.makedirs(where.parent, mode=0o700, exist_ok=True)
    parent = os.open(where.parent, _DIRECTORY)
    try:
        if not _private(os.fstat(parent)):
            return None
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(where.name, 0o700, dir_fd=parent)
        fd = os.open(where.name, _DIRECTORY, dir_fd=parent)
    finally:
        os.close(parent)
    if not _private(os.fstat(fd)):
        os.close(fd)
        return None
    return fd


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and _HEX.issuperset(text)


def _ours(name: str) -> bool:
    """An entry (``<64 hex digits>.json``) or a write of this module's that never ended
    (``.<entry>.<pid>.<8 hex digits>``): the only files ever removed from the directory."""
    if _is_hex(name[:-5], 64) and name.endswith(".json"):
        return True
    if not name.startswith("."):
        return False
    entry, _, rest = name[1:].partition(".json.")
    pid, _, nonce = rest.partition(".")
    return _is_hex(entry, 64) and pid.isdecimal() and pid.isascii() and _is_hex(nonce, 8)


# --- reading and writing ---------------------------------------------------------------


def _read(name: str, key: list[str], text: str) -> Definition | None:
    try:
        directory = _open_directory(create=False)
        if directory is None:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        finally:
            os.close(directory)
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


def _write(name: str, key: list[str], definition: Definition) -> None:
    """Keep ``definition`` as entry ``name`` (atomically), if it reads back the same and
    the parser's files are still those of the fingerprint in ``key``."""
    try:
        encoded = _encode(definition)
        if not _same(_decode(encoded, definition.source_text), definition):
            return
        stored = {"key": key, "definition": encoded}
        body = json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (_NotKept, TypeError, ValueError, RecursionError):
        return
    if _fingerprint() != key[0]:  # changed since the command started: parsed by old code?
        return
    data = hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body
    try:
        directory = _open_directory(create=True)
        if directory is None:
            return
        try:
            temporary = f".{name}.{os.getpid()}.{os.urandom(4).hex()}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temporary, flags, 0o600, dir_fd=directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=directory)
                raise
            _prune(directory)
        finally:
            os.close(directory)
    except OSError:
        return


def _prune(directory: int) -> None:
    """Keep the newest MAX_ENTRIES entries (and leftovers of interrupted writes, briefly);
    nothing but entries and such leftovers is ever removed."""
    entries = []
    with os.scandir(directory) as found:
        for entry in found:
            if not _ours(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                entries.append((info.st_mtime_ns, entry.name))
    entries.sort(reverse=True)
    for _, name in entries[MAX_ENTRIES:]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=directory)


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
