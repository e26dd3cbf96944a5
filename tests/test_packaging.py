"""ruhrflow as a wheel: the definitions, config and migrations travel inside the package,
and an installed (non-editable) copy finds them away from the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

from workflow.app.resources import shipped_dir, shipped_file
from workflow.app.settings import load_settings

SHIPPED_FILES = [
    "workflow/_shipped/definitions/ruhr_konferenz.yaml",
    "workflow/_shipped/definitions/data/ruhr_konferenz_2019.csv",
    "workflow/_shipped/config/directory.toml",
    "workflow/_shipped/config/ruhrflow.toml",
    "workflow/store/migrations/env.py",
    "workflow/store/migrations/script.py.mako",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, site): a wheel built from this checkout and installed into a bare target."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp / "dist")],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp / "dist").glob("ruhrflow-*.whl")
    site = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return wheel, site


def test_the_wheel_carries_definitions_config_data_and_migrations(
    installed: tuple[Path, Path],
) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in SHIPPED_FILES if n not in names]
    assert not missing, missing
    assert any(
        n.startswith("workflow/store/migrations/versions/0001_") and n.endswith(".py")
        for n in names
    )
    assert "workflow/cli/main.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "ruhrflow = workflow.cli.main:main" in text


def test_an_installed_copy_runs_away_from_the_repository(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUHRFLOW_")}
    env["PYTHONPATH"] = str(site)

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
        return done

    # The package and its shipped files come from the installation, not from the repo
    probe = (
        "import workflow, workflow.app.resources as r\n"
        "print(workflow.__file__)\n"
        "print(r.shipped_dir('definitions'))\n"
        "print(r.shipped_dir('config'))\n"
    )
    package, definitions, config = python("-c", probe).stdout.split()
    site_root = site.resolve()
    for path in (package, definitions, config):
        assert Path(path).resolve().is_relative_to(site_root), path
    assert Path(definitions, "ruhr_konferenz.yaml").is_file()
    # … and the CLI works with them: lint the shipped definition, migrate, import the data
    out = python("-m", "workflow", "definition", "check", f"{definitions}/ruhr_konferenz.yaml")
    assert out.stdout.splitlines()[0].endswith(": clean")
    out = python("-m", "workflow", "--db", "sqlite:///x.db", "init")
    assert "definition ruhr_konferenz version 3 registered" in out.stdout
    assert (tmp_path / "x.db").is_file()
    out = python("-m", "workflow", "--db", "sqlite:///x.db", "--as", "koordination",
                 "proposal", "import", f"{definitions}/data/ruhr_konferenz_2019.csv")  # fmt: skip
    assert "imported 75 proposals" in out.stdout
    out = python("-m", "workflow", "--db", "sqlite:///x.db", "definition", "show")
    assert "ruhr_konferenz v3" in out.stdout
    # `data path` names the installed copies, which the README's tour imports and copies
    shipped = python("-m", "workflow", "data", "path").stdout.strip()
    assert shipped == f"{definitions}/data/ruhr_konferenz_2019.csv"
    assert python("-m", "workflow", "data", "path", "definition").stdout.strip() == (
        f"{definitions}/ruhr_konferenz.yaml"
    )
    assert Path(python("-m", "workflow", "data", "path", "config").stdout.strip()).is_file()


def test_a_source_checkout_finds_the_files_of_the_repository() -> None:
    # The tests run from the source tree (editable install or PYTHONPATH): no _shipped copy.
    assert not (REPO / "workflow" / "_shipped").exists()
    assert shipped_dir("definitions") == REPO / "definitions"
    assert shipped_dir("config") == REPO / "config"
    assert shipped_file("definitions", "ruhr_konferenz.yaml").is_file()
    settings = load_settings(None, env={})
    assert settings.definition_path == REPO / "definitions" / "ruhr_konferenz.yaml"
    assert settings.directory_path == REPO / "config" / "directory.toml"
    with pytest.raises(ValueError):
        shipped_dir("templates")
