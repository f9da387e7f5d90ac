"""Files and directories only Lockgate's own user may read: the database, the usage journal, secrets."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) when missing; an existing directory keeps the mode its owner gave it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 when missing (SQLite gives its -wal and -shm files the mode of
    the database file, so creating it first covers those too)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
