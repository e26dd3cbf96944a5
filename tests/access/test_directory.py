"""The directory's actor ids: a login name, a history entry's actor and a web account's key
each, so one plain line that fits the web account's column — refused at load, in one line
naming the file, otherwise (a NUL one fails on PostgreSQL only, a long one on PostgreSQL
only, at the first password set for it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.access.directory import load_directory
from workflow.errors import InvalidConfig

REPO = Path(__file__).resolve().parents[2]


def _directory(tmp_path: Path, actor_id: str) -> Path:
    path = tmp_path / "directory.toml"
    key = "".join(c if c.isprintable() and c != '"' else f"\\u{ord(c):04x}" for c in actor_id)
    path.write_text(f'[actors."{key}"]\nrole = "coordinator"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("actor_id", "message"),
    [
        ("koord\x00ination", "contains a control character (U+0000)"),
        ("koord\nination", "must be a single line"),
        ("\u202ekoordination", "bidi control character"),
        ("k" * 65, "longer than 64 characters"),
        (" koordination", "has no surrounding spaces"),
        ("", "must not be empty"),
    ],
)
def test_an_actor_id_that_is_no_plain_line_is_refused_naming_the_file(
    tmp_path: Path, actor_id: str, message: str
) -> None:
    path = _directory(tmp_path, actor_id)
    with pytest.raises(InvalidConfig, match=re.escape(message)) as refused:
        load_directory(path)
    assert str(refused.value).startswith(f"{path}: actors")
    assert "\n" not in str(refused.value)


def test_the_shipped_directory_and_a_64_character_id_load(tmp_path: Path) -> None:
    assert load_directory(REPO / "config" / "directory.toml").actors
    assert "k" * 64 in load_directory(_directory(tmp_path, "k" * 64)).actors
