"""Gumbel-softmax sampling of a :class:`TextGenerator` (Jang et al. 2017; Maddison et al. 2017):
the relaxation through which RelGAN's discriminator trains its generator.

At each position the logits ``o`` get standard Gumbel noise ``g``. The token is
``argmax(o + g)``, an exact draw from ``softmax(o)`` (the Gumbel-max trick), and its relaxed
one-hot is ``softmax(beta * (o + g))``, differentiable in ``o``; it tends to the token's one-hot
as the inverse temperature ``beta`` grows. The generator reads the drawn token, not the
relaxation, at the next position, as RelGAN's reference code does: D's gradient reaches G
through each position's relaxed one-hot, and through the recurrent state the positions before.

The noise is drawn here rather than by :func:`multigan.kernels.sample_categorical`: the relaxed
one-hot must come from the very noise that chose the token, which that kernel's inverse-CDF
draw does not give. Plain sampling (``gan.sample``) still uses the kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .generators import TextGenerator


def gumbel_noise(shape: tuple[int, ...], device: torch.device, rng: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise ``-log(-log(u))``, ``u`` uniform from ``rng`` (None: the global RNG);
    float32. ``u`` is kept above zero, so the noise is finite."""
    u = torch.rand(shape, device=device, generator=rng).clamp_min_(torch.finfo(torch.float32).tiny)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: Tensor, beta: float, noise: Tensor) -> tuple[Tensor, Tensor]:
    """The token ``argmax(logits + noise)`` (..., ) and its relaxed one-hot
    ``softmax(beta * (logits + noise))`` (..., V), float32, differentiable in ``logits``."""
    perturbed = logits.float() + noise
    return perturbed.argmax(dim=-1), torch.softmax(beta * perturbed, dim=-1)


def soft_sample(generator: TextGenerator, n: int, length: int, beta: float,
                rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` sequences drawn from ``generator``, with their relaxed one-hots at inverse
    temperature ``beta``: token ids (n, length) and float32 (n, length, V), the second
    differentiable in G's parameters. After a sequence's EOS the token is PAD and its
    "relaxation" PAD's exact one-hot, as a real sequence's padding is to D."""
    logits, state = generator.start(n)
    done = torch.zeros(n, dtype=torch.bool, device=logits.device)
    tokens, relaxed = [], []
    for t in range(length):
        token, soft = gumbel_softmax(logits, beta, gumbel_noise(logits.shape, logits.device, rng))
        token = torch.where(done, torch.full_like(token, generator.pad), token)
        soft = torch.where(done[:, None], F.one_hot(token, soft.shape[-1]).float(), soft)
        if generator.eos is not None:
            done = done | (token == generator.eos)
        tokens.append(token)
        relaxed.append(soft)
        if t < length - 1:
            logits, state = generator.step(token, state)
    return torch.stack(tokens, dim=1), torch.stack(relaxed, dim=1)
