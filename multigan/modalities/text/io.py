"""Writing text a person can read: UTF-8, one sample a line."""

from __future__ import annotations

from pathlib import Path

from ...files import write_bytes_atomic


def text_lines(lines: list[str]) -> bytes:
    """The samples in order, one a line, UTF-8; line breaks inside a sample become spaces, so
    line ``i`` is always sample ``i``."""
    return "".join(" ".join(line.splitlines()) + "\n" for line in lines).encode("utf-8")


def write_text_samples(lines: list[str], stem: Path | str) -> list[Path]:
    """Write ``<stem>.txt``: :func:`text_lines` of the samples. Returns ``[path]``."""
    stem = Path(stem)
    path = stem if stem.suffix.lower() == ".txt" else stem.with_name(stem.name + ".txt")
    return [write_bytes_atomic(path, text_lines(lines))]
