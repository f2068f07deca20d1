"""Writing files so that a crash at any moment leaves the old file or the new one, never half of one.

Checkpoints, exports, run artifacts and ``config.json`` all go through here: the data is written
to a temporary name in the same folder, flushed to disk, and renamed over the target.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import torch

from .errors import ConfigError


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


def check_new_file(path: str | os.PathLike, suffix: str) -> Path:
    """``path`` as a Path, or a :class:`ConfigError` unless a file can be written there: not a
    folder, with no file among its parents (``suffix`` names the expected file kind)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give the file's name (ending in {suffix})")
    _no_file_above(path)
    return path


def check_new_folder(out: str | os.PathLike, flag: str = "") -> Path:
    """``out`` as a Path, or a :class:`ConfigError` unless it can become a new folder: absent,
    or an empty folder, with no file among its parents (``flag``, such as ``"--out"``, names
    the argument in the message)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{flag + ' ' if flag else ''}{str(out)!r} exists and is not an empty folder: "
                          "give a new folder")
    _no_file_above(out)
    return out


def _no_file_above(path: Path) -> None:
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"cannot write {str(path)!r}: {str(existing)!r} is a file, not a folder")


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Fill a new folder as a whole: yields a hidden staging folder beside ``target`` (see
    :func:`temporary_name`), renamed to ``target`` (absent or empty: :func:`check_new_folder`)
    when the block ends, and removed instead if it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_name(target)
    shutil.rmtree(staging, ignore_errors=True)   # left by a killed process that had this one's id
    staging.mkdir()
    try:
        yield staging
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(target.parent)


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
