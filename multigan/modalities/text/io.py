"""Writing text a person can read: UTF-8, one sample a line."""

from __future__ import annotations

from pathlib import Path

from ...files import write_bytes_atomic


def write_text_samples(lines: list[str], stem: Path | str) -> list[Path]:
    """Write ``<stem>.txt``: the samples in order, one a line, UTF-8; line breaks inside a
    sample become spaces, so line ``i`` is always sample ``i``. Returns ``[path]``."""
    stem = Path(stem)
    path = stem if stem.suffix.lower() == ".txt" else stem.with_name(stem.name + ".txt")
    text = "".join(" ".join(line.splitlines()) + "\n" for line in lines)
    return [write_bytes_atomic(path, text.encode("utf-8"))]
