"""Which process this is in a multi-process run (torch.distributed), for code below the trainer.

Families draw shared noise for their share of a global batch (:func:`share_of`) without
knowing about the trainer; the trainer's :mod:`multigan.train.distributed` builds on these.
"""

from __future__ import annotations

from typing import Callable

import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Number of training processes (1 without an initialised process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without an initialised process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes files and logs (rank 0)."""
    return rank() == 0


def share_of(draw: Callable[[int], Tensor], n: int) -> Tensor:
    """This rank's ``n`` rows of ``draw(n * world_size())``: every rank draws the whole global
    batch from the same stream and keeps its own slice, so N processes see exactly the rows one
    process would draw for the global batch."""
    world = world_size()
    if world == 1:
        return draw(n)
    r = rank()
    return draw(n * world)[r * n:(r + 1) * n]
