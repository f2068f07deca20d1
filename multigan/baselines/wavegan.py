"""Plain-PyTorch WaveGAN training loop (WGAN-GP): the benchmark baseline for multigan's ``wavegan``.

Reproduces multigan's WaveGAN as a hand-written eager fp32 loop in the style of the WGAN-GP
reference training loop: the same layers (dense projection, transposed 1-D convolutions of
kernel 25 in G; strided convolutions, LeakyReLU 0.2, phase shuffle and a dense critic in D;
PyTorch's default initialisation; no batch norm), z ~ U(-1, 1), the Wasserstein loss with a
gradient penalty of weight ``gp_weight`` on per-example mixes of real and fake, and Adam with
the config's learning rates and betas. One iteration is what one adversarial step of multigan's
trainer does: ``n_critic`` critic updates, each on its own real batch and a fresh fake batch
made under no_grad, then one generator update on a fresh fake batch.

Phase shuffle here draws the shifts on the CPU, one per example (or, with
``phase_shuffle_per_batch``, one per call as in the reference code), and applies each distinct
shift to its group of examples with a crop and ``F.pad(mode="reflect")``: at most ``2n + 1``
pads per layer where multigan does one gather (or one fused kernel).

How it differs from multigan's trainer (part of what the benchmark compares): no finite-loss or
finite-gradient checks, no loss logging, and the trainer's gradient clipping, EMA of G and mixed
precision are not reproduced (``grad_clip_*`` and ``ema_decay`` are ignored; their defaults are
off); PyTorch's default Adam (multigan uses fused Adam on CUDA with ``kernels="auto"``) and
plain PyTorch layers (no fused kernels). Like multigan, and like the WGAN-GP reference, it
switches D's ``requires_grad`` off during G's update, so G's backward computes no weight
gradients for D; the per-iteration network work (G and D forwards and backwards, the double
backward of the penalty) is the same.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

UNIT = "seconds of audio/s"
N_BATCHES = 4  # synthetic real batches made once and cycled through
KERNEL = 25
# Layer strides per output length; G starts from 16 samples, D ends on 16.
STRIDES = {16384: (4, 4, 4, 4, 4), 32768: (4, 4, 4, 4, 4, 2), 65536: (4, 4, 4, 4, 4, 4)}


def _padding(stride: int) -> int:
    # stride 4 with padding 11 (stride 2 with 12) maps a length L to exactly L / stride
    return 11 if stride == 4 else 12


def _top_width(d: int, segment_length: int) -> int:
    return d * (16 if segment_length == 16384 else 32)


class Generator(nn.Module):
    """z (N, nz) -> dense -> (top, 16) -> [ReLU, transposed conv] x k -> tanh (N, 1, length)."""

    def __init__(self, nz: int, d: int, segment_length: int, post_filter: int = 0):
        super().__init__()
        strides = STRIDES[segment_length]
        self.top = _top_width(d, segment_length)
        self.fc = nn.Linear(nz, self.top * 16)
        widths = [self.top // 2 ** i for i in range(len(strides))] + [1]
        layers: list[nn.Module] = []
        for c_in, c_out, stride in zip(widths, widths[1:], strides):
            layers += [nn.ReLU(), nn.ConvTranspose1d(c_in, c_out, KERNEL, stride, _padding(stride), output_padding=1)]
        if post_filter:  # the learned post-processing filter, before the tanh as in multigan
            layers += [nn.ConstantPad1d(((post_filter - 1) // 2, post_filter // 2), 0.0),
                       nn.Conv1d(1, 1, post_filter, bias=False)]
        self.upsample = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.fc(z).view(-1, self.top, 16))


def _shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` (N, C, L) moved ``k`` samples later in time (earlier if ``k < 0``); the samples
    that come in at the edge are the reflection of the signal there."""
    if k > 0:
        return F.pad(x[..., :-k], (k, 0), mode="reflect")
    if k < 0:
        return F.pad(x[..., -k:], (0, -k), mode="reflect")
    return x


class PhaseShuffle(nn.Module):
    """Shift each example (or, per batch, all of them) by a random integer in [-n, n]."""

    def __init__(self, n: int, per_batch: bool):
        super().__init__()
        self.n, self.per_batch = n, per_batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_batch:
            return _shift(x, int(torch.randint(-self.n, self.n + 1, ())))
        shifts = torch.randint(-self.n, self.n + 1, (x.shape[0],))
        out = torch.empty_like(x)
        for k in shifts.unique().tolist():
            rows = (shifts == k).nonzero().squeeze(1).to(x.device)
            out[rows] = _shift(x[rows], k)
        return out


class Discriminator(nn.Module):
    """waveforms (N, 1, length) -> [conv, LeakyReLU 0.2, phase shuffle] x k (no shuffle after
    the last) -> dense critic values (N,)."""

    def __init__(self, d: int, segment_length: int, shuffle: int, per_batch: bool):
        super().__init__()
        strides = STRIDES[segment_length][::-1]
        top = _top_width(d, segment_length)
        widths = [1] + [top // 2 ** i for i in reversed(range(len(strides)))]
        layers: list[nn.Module] = []
        for i, (c_in, c_out, stride) in enumerate(zip(widths, widths[1:], strides)):
            layers += [nn.Conv1d(c_in, c_out, KERNEL, stride, _padding(stride)), nn.LeakyReLU(0.2)]
            if shuffle and i < len(strides) - 1:
                layers.append(PhaseShuffle(shuffle, per_batch))
        self.downsample = nn.Sequential(*layers)
        self.fc = nn.Linear(top * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.downsample(x).flatten(1)).view(-1)


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    d, length = config["model_size"], config["segment_length"]
    return (Generator(config["latent_dim"], d, length, config.get("post_filter_length", 0)),
            Discriminator(d, length, config["phase_shuffle"], config["phase_shuffle_per_batch"]))


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one training iteration, its units: one batch, ``batch_size * segment_length /
    sample_rate`` seconds of audio, as multigan's benchmark counts an iteration whatever
    ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the wavegan baseline has one step, 'train'; got {step!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    rng = torch.Generator().manual_seed(0)
    length = config["segment_length"]
    reals = itertools.cycle([(0.1 * torch.randn(batch_size, 1, length, generator=rng)).clamp(-1, 1).to(device)
                             for _ in range(N_BATCHES)])
    nz, n_critic, gp_weight = config["latent_dim"], config["n_critic"], config["gp_weight"]

    def noise() -> torch.Tensor:
        return torch.rand(batch_size, nz, device=device) * 2 - 1

    def run_one_iteration() -> None:
        for p in disc.parameters():
            p.requires_grad_(True)
        for _ in range(n_critic):
            real = next(reals)
            with torch.no_grad():
                fake = gen(noise())
            eps = torch.rand(batch_size, 1, 1, device=device)
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(disc(mix).sum(), mix, create_graph=True)
            penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss_d = disc(fake).mean() - disc(real).mean() + gp_weight * penalty
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        for p in disc.parameters():  # no weight gradients for D during G's update
            p.requires_grad_(False)
        loss_g = -disc(gen(noise())).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return run_one_iteration, batch_size * length / config["sample_rate"]


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float | None = None) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G maps ``batch_size`` fresh latents from U(-1, 1) to clips, fp32,
    eval mode, under ``torch.inference_mode``; the clips it makes). ``seconds`` is for the
    vocoders' baselines and unused here."""
    device = torch.device(device)
    gen = _networks(config)[0].eval().to(device)
    nz = config["latent_dim"]

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return gen(torch.rand(batch_size, nz, device=device) * 2 - 1)

    return generate, float(batch_size)
