"""Where multigan keeps what it computes once and reuses (e.g. metric classifiers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import torch
from torch import nn

from .files import save_atomic

M = TypeVar("M", bound=nn.Module)


def cache_dir() -> Path:
    """``$MULTIGAN_CACHE`` if set, else ``~/.cache/multigan``; created on first use."""
    folder = Path(os.environ.get("MULTIGAN_CACHE") or Path.home() / ".cache" / "multigan")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_model(name: str, empty: M, train: Callable[[], M], device: torch.device | str = "cpu") -> M:
    """``empty`` with the weights cached as ``name`` in :func:`cache_dir`, or, on a cache miss
    (or a stale or damaged file), the model ``train()`` returns, whose weights are then cached.
    Returned in eval mode on ``device``."""
    path = cache_dir() / name
    if path.is_file():
        try:
            empty.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return empty.eval().to(device)
        except Exception:  # a stale or damaged cache is rebuilt
            pass
    with torch.enable_grad():  # a cache miss may come inside a metric's no_grad
        model = train()
    save_atomic(model.state_dict(), path)
    return model.eval().to(device)
