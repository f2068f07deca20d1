"""WaveGAN's phase shuffle (Donahue et al. 2019, section 3.3).

Each example's feature map is shifted in time by its own integer in ``[-n, n]``; the samples
shifted in at an edge are the reflection of the signal about that edge, so no zeros leak in.
One gather over a reflected index map does all examples at once.
"""

from __future__ import annotations

import torch
from torch import Tensor


def phase_shuffle(x: Tensor, n: int, shifts: Tensor | None = None) -> Tensor:
    """Shift each example of ``x`` (N, C, L) by ``shifts`` (N,) samples, reflecting at the edges.

    ``out[b, :, t] = x[b, :, reflect(t - shifts[b])]``. With ``shifts=None`` they are drawn
    uniformly from ``[-n, n]`` with the global torch RNG. ``n`` must be smaller than ``L``.
    """
    batch, _, length = x.shape
    if shifts is None:
        shifts = torch.randint(-n, n + 1, (batch,), device=x.device)
    if n == 0:
        return x
    if n >= length:
        raise ValueError(f"phase shuffle of {n} needs feature maps longer than {n}, got {length}")
    index = torch.arange(length, device=x.device) - shifts.to(x.device).view(-1, 1)   # (N, L)
    index = index.abs()                                    # reflect about the left edge
    index = torch.where(index > length - 1, 2 * (length - 1) - index, index)  # and the right edge
    return x.gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))
