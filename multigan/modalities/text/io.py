"""Writing text a person can read: UTF-8, one sample a line."""

from __future__ import annotations

import os
from pathlib import Path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``: a crash
    leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_samples(lines: list[str], stem: Path | str) -> list[Path]:
    """Write ``<stem>.txt``: the samples in order, one a line, UTF-8; line breaks inside a
    sample become spaces, so line ``i`` is always sample ``i``. Returns ``[path]``."""
    stem = Path(stem)
    path = stem if stem.suffix.lower() == ".txt" else stem.with_name(stem.name + ".txt")
    text = "".join(" ".join(line.splitlines()) + "\n" for line in lines)
    return [write_bytes_atomic(path, text.encode("utf-8"))]
