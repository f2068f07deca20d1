"""Plain-PyTorch DCGAN training loop: the benchmark baseline for multigan's ``dcgan``.

Reproduces multigan's DCGAN as a hand-written eager fp32 loop in the style of pytorch/examples'
DCGAN: the same layers (so the same parameter counts), N(0, 0.02) initialisation of the
convolutions and N(1, 0.02) of BatchNorm's scales, the non-saturating loss on raw logits, and
Adam with the config's learning rates and betas. One iteration is what one adversarial step of
multigan's trainer does: ``n_critic`` discriminator updates, each on its own real batch, then
one generator update.

How it differs from multigan's trainer (part of what the benchmark compares):

* the fake batch of the last D update is generated with autograd on and reused by the G update,
  as pytorch/examples does; multigan's trainer does the same with ``n_critic = 1`` (one G
  forward per iteration), but with more critic steps it gives G's update a fresh fake batch;
* G's backward also computes D's weight gradients (multigan freezes D during G's update);
* no finite-loss or finite-gradient checks, no loss logging, and the trainer's gradient
  clipping, EMA of G and mixed precision are not reproduced (``grad_clip_*`` and ``ema_decay``
  are ignored; their defaults are off);
* PyTorch's default Adam (multigan uses fused Adam on CUDA with ``kernels="auto"``) and
  plain PyTorch layers (no fused kernels).

Only the paper's non-saturating loss is covered.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

UNIT = "images/s"
N_BATCHES = 4  # synthetic real batches made once and cycled through


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> a 4x4 map -> stride-2 transposed convolutions -> tanh images."""

    def __init__(self, nz: int, image_size: int, nc: int, ngf: int):
        super().__init__()
        n_up = int(math.log2(image_size)) - 2
        widths = [ngf * 2 ** i for i in reversed(range(n_up))]  # e.g. 8ngf, 4ngf, 2ngf, ngf at 64x64
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """images -> stride-2 convolutions (LeakyReLU 0.2, BatchNorm after the first) -> logits (N,)."""

    def __init__(self, image_size: int, nc: int, ndf: int):
        super().__init__()
        n_down = int(math.log2(image_size)) - 2
        widths = [ndf * 2 ** i for i in range(n_down)]
        layers: list[nn.Module] = [nn.Conv2d(nc, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    size, nc = config["image_size"], config["channels"]
    gen = Generator(config["latent_dim"], size, nc, config["g_width"])
    disc = Discriminator(size, nc, config["d_width"])
    gen.apply(_init_weights)
    disc.apply(_init_weights)
    return gen, disc


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one training iteration, its units: one batch, ``batch_size`` images, as multigan's
    benchmark counts an iteration whatever ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the dcgan baseline has one step, 'train'; got {step!r}")
    if config["loss"] != "non_saturating":
        raise ValueError(f"the dcgan baseline covers the paper's 'non_saturating' loss, not {config['loss']!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    rng = torch.Generator().manual_seed(0)
    shape = (batch_size, config["channels"], config["image_size"], config["image_size"])
    reals = itertools.cycle([(torch.rand(shape, generator=rng) * 2 - 1).to(device) for _ in range(N_BATCHES)])
    nz, n_critic = config["latent_dim"], config["n_critic"]
    ones = torch.ones(batch_size, device=device)
    zeros = torch.zeros(batch_size, device=device)

    def run_one_iteration() -> None:
        for k in range(n_critic):
            real = next(reals)
            keep = k == n_critic - 1  # the last fake batch is kept, with its graph, for G's update
            with torch.set_grad_enabled(keep):
                fake = gen(torch.randn(batch_size, nz, 1, 1, device=device))
            loss_d = (F.binary_cross_entropy_with_logits(disc(real), ones)
                      + F.binary_cross_entropy_with_logits(disc(fake.detach()), zeros))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(disc(fake), ones)  # -log sigmoid(D(G(z)))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return run_one_iteration, float(batch_size)


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float | None = None) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G maps ``batch_size`` fresh latents to images, fp32, eval mode,
    under ``torch.inference_mode``; the images it makes). ``seconds`` is for the vocoders'
    baselines and unused here."""
    device = torch.device(device)
    gen = _networks(config)[0].eval().to(device)
    nz = config["latent_dim"]

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return gen(torch.randn(batch_size, nz, 1, 1, device=device))

    return generate, float(batch_size)
