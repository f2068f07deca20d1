"""Writing files so that a crash at any moment leaves the old file or the new one, never half of one.

Checkpoints, exports, run artifacts and ``config.json`` all go through here: the data is written
to a temporary name in the same folder, flushed to disk, and renamed over the target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch


def temporary_name(path: Path) -> Path:
    """Where :func:`write_atomic` writes before renaming: a hidden name in ``path``'s folder,
    unique to this process (a kill leaves it behind; :func:`remove_stale` clears such files)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """``write`` into a temporary file in ``path``'s folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda f: f.write(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def save_atomic(state: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda f: torch.save(state, f))


def link_atomic(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` (a hard link, or a copy where links are not
    supported), replacing ``dst`` atomically."""
    tmp = temporary_name(dst)
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dst)
    fsync_dir(dst.parent)


def remove_stale(folder: Path) -> None:
    """Delete the temporary files that writes cut short by a kill left in ``folder`` (the files
    they were to replace are whole). Only for folders one writer uses at a time."""
    for stale in folder.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform can open a folder
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
