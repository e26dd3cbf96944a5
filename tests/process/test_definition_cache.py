"""The cache of parsed definitions (workflow/process/definition_cache.py, issue 29).

A cold command reads the validated form of its stored definition from a file instead of
parsing the YAML; whatever is wrong with that file, the command must do what it did before:
parse and validate the text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import DEFINITION

from workflow.errors import InvalidDefinition
from workflow.process import definition_cache as cache
from workflow.process.definition import Definition, parse_definition

SHIPPED = DEFINITION.read_text(encoding="utf-8")
LABEL = "ruhr_konferenz v1"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "definitions"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels parse_definition was called with (it still parses)."""
    calls: list[str] = []
    from workflow.process import definition as module

    real = module.parse_definition

    def counted(text: str, file: str = "<definition>") -> Definition:
        calls.append(file)
        return real(text, file)

    monkeypatch.setattr(module, "parse_definition", counted)
    return calls


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


# The shipped definition holds values of every kind a definition has: dates and times of
# deadlines, int keys (handlungsfelder), nested lists and mappings of the raw file.
@pytest.mark.parametrize("text", [SHIPPED])
def test_the_encoding_gives_back_the_same_definition_in_every_value_and_type(text: str) -> None:
    parsed = parse_definition(text, LABEL)
    again = cache._decode(json.loads(json.dumps(cache._encode(parsed))), text)
    assert cache._same(again, parsed)
    assert again == parsed
    assert again.content_hash == parsed.content_hash
    # and the comparison itself can fail: an int where a float was, a list for a tuple
    assert not cache._same({"a": 1}, {"a": 1.0})
    assert not cache._same((1, 2), [1, 2])
    assert not cache._same({1: "x"}, {"1": "x"})


def test_a_second_read_parses_nothing_and_gives_the_same_definition(
    cache_dir: Path, parses: list[str]
) -> None:
    first = cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL] and len(entries(cache_dir)) == 1
    second = cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL]  # not parsed again
    assert second == first and cache._same(second, first)
    assert second.source_text == SHIPPED and second.path == LABEL
    assert oct(cache_dir.stat().st_mode & 0o777) == oct(0o700)
    assert oct(entries(cache_dir)[0].stat().st_mode & 0o777) == oct(0o600)


def test_another_label_or_text_is_another_entry(cache_dir: Path, parses: list[str]) -> None:
    cache.definition_of(SHIPPED, LABEL)
    other = cache.definition_of(SHIPPED, "ruhr_konferenz v2")
    assert other.path == "ruhr_konferenz v2"
    changed = SHIPPED.replace("\ntitle:", "\n# a comment\ntitle:", 1)
    assert changed != SHIPPED
    assert cache.definition_of(changed, LABEL).source_text == changed
    assert parses == [LABEL, "ruhr_konferenz v2", LABEL]
    assert len(entries(cache_dir)) == 3


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data.replace(b'"final":true', b'"final":false', 1), id="edited"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"\xff\xfe" + data, id="garbage"),
    ],
)
def test_a_damaged_entry_is_parsed_again_and_replaced(
    cache_dir: Path, parses: list[str], damage: object
) -> None:
    good = cache.definition_of(SHIPPED, LABEL)
    (entry,) = entries(cache_dir)
    data = entry.read_bytes()
    assert b'"final":true' in data
    entry.write_bytes(damage(data))  # type: ignore[operator]
    again = cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL]
    assert cache._same(again, good)
    assert entry.read_bytes() == data  # written anew
    assert cache.definition_of(SHIPPED, LABEL) == good and len(parses) == 2


def test_an_entry_with_a_valid_checksum_but_another_key_is_no_entry(
    cache_dir: Path, parses: list[str]
) -> None:
    # an entry whose content is consistent but belongs to another key (another parser,
    # another label): it is not used, even under this entry's name
    cache.definition_of(SHIPPED, LABEL)
    (entry,) = entries(cache_dir)
    stored = json.loads(entry.read_bytes().partition(b"\n")[2])
    stored["key"][0] = "another ruhrflow"
    body = json.dumps(stored).encode("utf-8")
    import hashlib

    entry.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL]


def test_an_entry_others_may_write_is_not_read(cache_dir: Path, parses: list[str]) -> None:
    cache.definition_of(SHIPPED, LABEL)
    os.chmod(cache_dir, 0o777)
    try:
        assert cache.definition_of(SHIPPED, LABEL).path == LABEL
        assert parses == [LABEL, LABEL]
    finally:
        os.chmod(cache_dir, 0o700)
    (entry,) = entries(cache_dir)
    os.chmod(entry, 0o666)
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL, LABEL]


def test_without_a_usable_directory_it_parses_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker))
    assert cache.definition_of(SHIPPED, LABEL).path == LABEL
    assert cache.definition_of(SHIPPED, LABEL).path == LABEL
    assert parses == [LABEL, LABEL]


def test_a_definition_with_problems_raises_and_is_not_kept(
    cache_dir: Path, parses: list[str]
) -> None:
    broken = SHIPPED.replace("initial: ", "initial: nowhere_", 1)
    for _ in range(2):
        with pytest.raises(InvalidDefinition):
            cache.definition_of(broken, LABEL)
    assert parses == [LABEL, LABEL]
    assert entries(cache_dir) == []


def test_the_cache_keeps_at_most_its_number_of_entries(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(5):
        cache.definition_of(SHIPPED, f"ruhr_konferenz v{i}")
    assert len(entries(cache_dir)) == 3


def test_the_directory_follows_xdg_and_the_variable() -> None:
    assert cache.cache_dir({cache.CACHE_ENV: "/x"}) == Path("/x/definitions")
    assert cache.cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/ruhrflow/definitions")
    relative = cache.cache_dir({"XDG_CACHE_HOME": "c"})  # not absolute: ignored (XDG)
    assert relative == Path.home() / ".cache" / "ruhrflow" / "definitions"


def test_an_entry_of_another_parser_is_not_found(
    cache_dir: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # another ruhrflow or PyYAML (their files' sizes and times): another fingerprint
    cache.definition_of(SHIPPED, LABEL)
    monkeypatch.setattr(cache, "_fingerprint", lambda: "another parser")
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL]
    assert len(entries(cache_dir)) == 2


def test_the_fingerprint_names_the_parser_modules_and_pyyaml() -> None:
    here = cache._files_of(str(Path(cache.__file__).parent), ".py")
    assert any(line.startswith(cache.__file__ + ":") for line in here)
    assert any("/yaml/" in line and "__init__.py:" in line for line in cache._yaml_files())
