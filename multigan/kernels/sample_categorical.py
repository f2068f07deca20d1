"""Drawing one token per row from unnormalised logits (SeqGAN's sampling and rollouts).

The reference inverts each row's cumulative distribution at a uniform draw: exact, and several
times faster than ``torch.multinomial`` on the CPU for vocabularies of thousands.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_categorical(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One index per row of ``logits`` (N, V), drawn from ``softmax(logits)``: (N,) int64.

    The uniform draws come from ``generator`` (on the logits' device; None: the global RNG),
    one per row, so the same generator state gives the same indices. A token of probability
    zero is never drawn.
    """
    cdf = (logits.float() - logits.float().amax(dim=1, keepdim=True)).exp_().cumsum_(dim=1)
    target = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device) * cdf[:, -1:]
    # right=True skips zero-probability tokens; the clamp catches u * total rounding up to the total
    return torch.searchsorted(cdf, target, right=True).clamp_(max=logits.shape[1] - 1).squeeze(1)
