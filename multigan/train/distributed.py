"""Process-group facts the trainer needs. One process is the world of size one, so the same
code path serves single-process and ``torchrun`` launches."""

from __future__ import annotations

import torch.distributed as dist


def world_size() -> int:
    """Number of training processes (1 without an initialised process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without an initialised process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes files and logs (rank 0)."""
    return rank() == 0
