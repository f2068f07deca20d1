"""The exponential moving average of the generator's weights (made by ``GAN.add_ema``), used for
sampling when enabled.

Two details make the average a network worth sampling from:

- warm-up: early in training the average would be mostly the random initial weights, so the
  decay at update ``t`` is ``min(decay, (1 + t) / (10 + t))`` (TensorFlow's
  ``ExponentialMovingAverage(num_updates=t)``): the average covers about the last tenth of
  training until the configured decay takes over;
- BatchNorm statistics: G's running statistics describe G's activations, not the average's.
  :func:`recompute_norm_statistics` measures the average's own before every preview and
  checkpoint (BigGAN's "standing statistics").
"""

from __future__ import annotations

import torch
from torch import nn

from ..gan import GAN


def warmed_up_decay(decay: float, updates: int) -> float:
    """The decay of EMA update number ``updates`` (0-based): ``min(decay, (1 + t) / (10 + t))``."""
    return min(decay, (1 + updates) / (10 + updates))


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * generator`` for parameters; buffers are copied, since
    averaging them would describe no real network (BatchNorm statistics are then measured anew
    by :func:`recompute_norm_statistics`)."""
    ema_params = list(ema.parameters())
    params = [p.detach() for p in generator.parameters()]
    torch._foreach_lerp_(ema_params, params, 1.0 - decay)
    for e, b in zip(ema.buffers(), generator.buffers()):
        e.copy_(b)


def batch_norms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``module`` that keep running statistics."""
    return [m for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_norm_statistics(gan: GAN, batch_size: int, passes: int = 16, seed: int = 0) -> bool:
    """Replace the EMA generator's BatchNorm running statistics by those of its own activations.

    Args:
        gan: a GAN with an EMA generator.
        batch_size: examples per pass (the training batch size, so the statistics are those
            the generator was trained to see).
        passes: forward passes averaged (momentum ``None``: an equal-weight mean).
        seed: the inputs' random seed; the global random state is left untouched, so a resumed
            run and an uninterrupted one stay identical.

    Returns False, changing nothing, when the EMA has no BatchNorm layers or the family draws
    its generator's inputs from data (:meth:`GAN.generator_inputs` gives None).
    """
    ema = gan.generator_ema
    norms = batch_norms(ema) if ema is not None else []
    rng = torch.Generator(device=gan.device).manual_seed(seed)
    inputs = gan.generator_inputs(batch_size, rng) if norms else None
    if inputs is None:
        return False
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = ema.training
    ema.train()
    try:
        for i in range(passes):
            ema(inputs if i == 0 else gan.generator_inputs(batch_size, rng))
    finally:
        ema.train(was_training)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
    return True
