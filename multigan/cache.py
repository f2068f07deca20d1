"""Where multigan keeps what it computes once and reuses (e.g. metric classifiers)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MULTIGAN_CACHE`` if set, else ``~/.cache/multigan``; created on first use."""
    folder = Path(os.environ.get("MULTIGAN_CACHE") or Path.home() / ".cache" / "multigan")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
