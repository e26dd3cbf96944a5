"""Where the shipped definitions and configuration are, however ruhrflow was installed.

A wheel carries ``definitions/`` and ``config/`` inside the package (``workflow/_shipped``);
a source checkout or an editable install finds them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # workflow/, not workflow/app/


def shipped_dir(name: str) -> Path:
    """The directory ``definitions`` or ``config`` that came with this installation."""
    if name not in ("definitions", "config"):
        raise ValueError(f"no shipped directory {name!r}")
    inside = _PACKAGE / "_shipped" / name
    if inside.is_dir():
        return inside
    beside = _PACKAGE.parent / name
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"the shipped {name}/ directory is missing from this installation")


def shipped_file(name: str, filename: str) -> Path:
    """A file inside a shipped directory."""
    return shipped_dir(name) / filename
