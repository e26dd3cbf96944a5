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


@pytest.fixture(autouse=True)
def _off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the cache off, as every process does."""
    monkeypatch.setattr(cache, "_started", None)


@pytest.fixture
def switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache on, as a one-shot command's start-up switches it on — also where the tests
    run as root (no cache as root: tested on its own below)."""
    monkeypatch.setattr(cache, "_as_root", lambda: False)
    assert cache.enable()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switched_on: None) -> Path:
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
    assert cache.enable()
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL]
    assert len(entries(cache_dir)) == 2


def test_the_fingerprint_names_the_parser_modules_and_pyyaml() -> None:
    here = cache._files_of(str(Path(cache.__file__).parent), ".py")
    assert any(path == cache.__file__ for path, _, _ in here)
    assert any(path.endswith("/yaml/__init__.py") for path, _, _ in cache._yaml_files())


# --- whose directory (a service account or root with someone else's HOME, sudo -E) -------


def unrelated_files(folder: Path, count: int) -> dict[str, bytes]:
    """``count`` files that are no entries (among them names close to an entry's)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"passwd-{i}" for i in range(count - 4)]
    names += ["a" * 64 + ".JSON", "A" * 64 + ".json", "b" * 63 + ".json", "." + "c" * 64]
    for i, name in enumerate(names):
        (folder / name).write_bytes(b"precious %d" % i)
        os.utime(folder / name, ns=(i, i))  # all older than any entry
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_linked_cache_directory_is_not_used_and_nothing_in_it_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switched_on: None, parses: list[str]
) -> None:
    # the directory someone linked to /etc: 70 files, 64 kept before (7 were removed)
    target = tmp_path / "etc"
    before = unrelated_files(target, 70)
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "cache" / "definitions").symlink_to(target)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    for _ in range(2):
        assert cache.definition_of(SHIPPED, LABEL).path == LABEL
    assert parses == [LABEL, LABEL]  # not read, not written
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    # nor when the link is one level up (the cache's own directory, ``ruhrflow``)
    (tmp_path / "etc" / "definitions").mkdir(mode=0o700)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "link"))
    (tmp_path / "link").symlink_to(target)
    cache.definition_of(SHIPPED, LABEL)
    cache.definition_of(SHIPPED, LABEL)
    assert len(parses) == 4 and list((target / "definitions").iterdir()) == []


def test_pruning_removes_entries_and_unfinished_writes_and_nothing_else(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = unrelated_files(cache_dir, 70)
    leftover = cache_dir / f".{'d' * 64}.json.4242.0badf00d"  # a write that never ended
    leftover.write_bytes(b"half")
    os.utime(leftover, ns=(0, 0))
    (cache_dir / "a-directory").mkdir()
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    for i in range(5):
        cache.definition_of(SHIPPED, f"ruhr_konferenz v{i}")
    assert len([p for p in entries(cache_dir) if p.name not in before]) == 3
    assert not leftover.exists()
    for name, data in before.items():
        assert (cache_dir / name).read_bytes() == data
    assert (cache_dir / "a-directory").is_dir()


def test_as_root_there_is_no_cache(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    cache.definition_of(SHIPPED, LABEL)  # an entry of the user's
    monkeypatch.setattr(cache, "_as_root", lambda: True)
    # switched on before the process became root: still neither read nor written
    cache.definition_of(SHIPPED, "ruhr_konferenz v2")
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, "ruhr_konferenz v2", LABEL]
    assert not cache.enable() and not cache.enabled()
    monkeypatch.undo()
    if os.geteuid() == 0:  # the real check (these tests may run as root)
        assert not cache.enable()
    assert len(entries(cache_dir)) == 1


def test_a_directory_or_parent_that_others_may_write_or_own_is_not_used(
    cache_dir: Path, parses: list[str]
) -> None:
    cache.definition_of(SHIPPED, LABEL)
    parent = cache_dir.parent
    os.chmod(parent, 0o777)
    try:
        cache.definition_of(SHIPPED, LABEL)
        cache.definition_of(SHIPPED, "ruhr_konferenz v2")  # nor written
    finally:
        os.chmod(parent, 0o700)
    assert parses == [LABEL, LABEL, "ruhr_konferenz v2"] and len(entries(cache_dir)) == 1
    if os.geteuid() != 0:
        return  # only root can give a directory to someone else
    for folder in (parent, cache_dir):
        os.chown(folder, 4242, -1)
        try:
            cache.definition_of(SHIPPED, LABEL)
        finally:
            os.chown(folder, os.geteuid(), -1)
    assert len(parses) == 5
    cache.definition_of(SHIPPED, LABEL)
    assert len(parses) == 5  # its own again: read


# --- only where a one-shot command switched it on ------------------------------------------


def test_off_unless_switched_on_library_use_parses_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    assert not cache.enabled()
    cache.definition_of(SHIPPED, LABEL)
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL, LABEL]
    assert not (tmp_path / "cache").exists()


def test_only_named_one_shot_commands_of_a_ruhrflow_process_switch_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workflow.cli import main, startup

    monkeypatch.setattr(cache, "_as_root", lambda: False)
    monkeypatch.setattr(startup, "_owned", False)
    assert not startup.one_shot(["advance"]) and not cache.enabled()  # the tests' runner
    monkeypatch.setattr(startup, "_owned", True)  # as main() does
    for command in (["serve"], ["scheduler", "run"], ["scheduler", "tick"], ["demo"],
                    ["notices", "send"], ["publish"], ["init"], ["scheduler"], []):  # fmt: skip
        assert not startup.one_shot(command), command
        assert not cache.enabled()
    assert startup.one_shot(["advance"]) and cache.enabled()
    # every command named is one ruhrflow has
    for words in startup.ONE_SHOT:
        assert words[0] in main.COMMANDS


# --- the parser's fingerprint --------------------------------------------------------------


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the modules the parser runs, which the fingerprint then looks at."""
    import shutil

    real = Path(cache.__file__).parent.parent
    copy = tmp_path / "workflow"
    shutil.copytree(real / "process", copy / "process", ignore=shutil.ignore_patterns("__py*"))
    for name in cache.OTHER_MODULES:
        shutil.copy2(real / name, copy / name)
    monkeypatch.setattr(cache, "__file__", str(copy / "process" / "definition_cache.py"))
    return copy


@pytest.mark.parametrize(
    "name", ["inputs.py", "errors.py", "version.py", "process/sections.py", "process/new.py"]
)
def test_the_fingerprint_changes_with_any_module_the_parser_runs(
    package_copy: Path, name: str
) -> None:
    first = cache._fingerprint()
    assert first is not None and first == cache._fingerprint()
    path = package_copy / name
    if path.exists():
        os.utime(path, ns=(0, path.stat().st_mtime_ns + 1))
    else:
        path.write_text("", encoding="utf-8")
    assert cache._fingerprint() not in (first, None)


def test_the_fingerprint_changes_with_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache._fingerprint()
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert cache._fingerprint() not in (first, None)


@pytest.mark.parametrize("name", ["inputs.py", "errors.py", "process/yaml_lines.py", "all"])
def test_without_the_source_of_a_module_of_the_parser_there_is_no_cache(
    package_copy: Path, name: str
) -> None:
    # an install of .pyc files only: nothing tells one ruhrflow's entries from another's
    paths = list(package_copy.rglob("*.py")) if name == "all" else [package_copy / name]
    for path in paths:
        path.rename(path.with_suffix(".pyc"))
    assert cache._fingerprint() is None


def test_a_parser_changed_since_the_start_writes_no_entry(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]
) -> None:
    # an upgrade in place while the command ran: what it parsed may be the old code's
    monkeypatch.setattr(cache, "_fingerprint", lambda: "the upgraded parser")
    cache.definition_of(SHIPPED, LABEL)
    assert parses == [LABEL] and entries(cache_dir) == []


def test_where_a_directory_cannot_be_opened_without_following_links_there_is_no_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache, "_as_root", lambda: False)
    monkeypatch.setattr(cache, "_SUPPORTED", False)  # no O_NOFOLLOW or dir_fd (Windows)
    assert not cache.enable() and not cache.enabled()
