"""The demo's directory: what a run writes there, and the config that points at it."""

from __future__ import annotations

import shutil
from pathlib import Path

from workflow.errors import InvalidInput

DEMO_FILES = ("ruhrflow.db", "ruhrflow.db-wal", "ruhrflow.db-shm", "ruhrflow.toml")
DEMO_DIRECTORIES = ("mail", "public")  # the Maildir; the published board ([web] public_dir)


class DemoExists(InvalidInput):
    """The demo directory holds a previous run."""


def prepare_directory(directory: Path, *, fresh: bool) -> None:
    """Make ``directory`` ready; refuse to overwrite a previous run unless ``fresh``."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in (*DEMO_FILES, *DEMO_DIRECTORIES) if (directory / name).exists()]
    if existing and not fresh:
        raise DemoExists(
            f"{directory} holds a previous demo run ({', '.join(existing)});"
            " use --fresh to replace it, or --dir for another directory"
        )
    for name in existing:  # only what the demo itself writes
        target = directory / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()


def write_config(directory: Path) -> Path:
    """The demo's configuration: its own SQLite file, its Maildir and the directory its board
    is published into, which ``serve`` serves at ``/public/`` (``[web] public_dir``; made
    here, since the setting must name a directory); nothing else changed."""
    path = directory / "ruhrflow.toml"
    db = (directory / "ruhrflow.db").resolve()
    mail = (directory / "mail").resolve()
    public = (directory / "public").resolve()
    public.mkdir(exist_ok=True)
    path.write_text(
        "# Written by `ruhrflow demo`: the embedded default, inside this directory.\n"
        f'[database]\nurl = "sqlite:///{db.as_posix()}"\n\n'
        f'[mail]\ntransport = "maildir"\nmaildir = "{mail.as_posix()}"\n\n'
        f'[web]\npublic_dir = "{public.as_posix()}"\n',
        encoding="utf-8",
    )
    return path
