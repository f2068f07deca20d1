"""The exponential moving average of the generator's weights (made by ``GAN.add_ema``), used for
sampling when enabled."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * generator`` for parameters; buffers (BatchNorm
    statistics) are copied, since averaging them would describe no real network."""
    ema_params = list(ema.parameters())
    params = [p.detach() for p in generator.parameters()]
    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for e, b in zip(ema.buffers(), generator.buffers()):
        e.copy_(b)
