"""Plain-PyTorch SNGAN training loop: the benchmark baseline for multigan's ``sngan``.

Reproduces multigan's SNGAN (Miyato et al. 2018, with the projection discriminator of Miyato &
Koyama 2018) as a hand-written eager fp32 loop, from the papers' description of their CIFAR-10
models:

* G: z ~ N(0, I) -> a linear map to ``g_width`` maps of 4x4 -> one residual up-block per
  doubling (conditional BatchNorm, ReLU, nearest 2x upsampling, 3x3 convolution, conditional
  BatchNorm, ReLU, 3x3 convolution; shortcut: upsampling and a 1x1 convolution) -> BatchNorm,
  ReLU, a 3x3 convolution to the image, tanh. Conditional BatchNorm looks its scale and shift
  up per class, starting at 1 and 0;
* D: an optimised first block on the image (3x3 convolution, ReLU, 3x3 convolution, 2x2 average
  pooling; shortcut: pooling then a 1x1 convolution), residual down-blocks (ReLU, convolution,
  ReLU, convolution, pooling; shortcut: a 1x1 convolution then pooling) to 8x8, two more blocks
  at 8x8 with identity shortcuts, ReLU, a sum over positions ``h``, then the projection head
  ``linear(h) + <embed(y), h>``. Spectral norm (``torch.nn.utils.parametrizations.spectral_norm``,
  one power iteration per forward) on every layer of D, the class embedding included, unless
  ``spectral_norm`` is off;
* Xavier-uniform weights (gain sqrt(2) on the residual paths' 3x3 convolutions, 1 elsewhere) and
  zero biases; the hinge loss; Adam with the config's learning rates and betas ((0, 0.9)).

``num_classes=0`` gives the unconditional SNGAN: plain BatchNorm in G, no projection in D, and
images without labels. Otherwise the synthetic real batches hold random labels, and the fakes
of every update are made for the labels of that update's real batch, as multigan's SNGAN does.

One iteration is what one adversarial step of multigan's trainer does: ``n_critic``
discriminator updates, each on its own real batch and its own fakes made under no_grad (D sees
the real and the fake batch in two forwards, so spectral norm's power iteration runs twice, as
in multigan), then one generator update on a fresh fake batch made for the labels of one more
real batch. Like multigan, it switches D's ``requires_grad`` off during G's update, so G's
backward computes no weight gradients for D.

How it differs from multigan's trainer (part of what the benchmark compares): no finite-loss or
finite-gradient checks, no loss logging, and the trainer's gradient clipping, EMA of G and mixed
precision are not reproduced (``grad_clip_*`` and ``ema_decay`` are ignored; their defaults are
off); PyTorch's default Adam (multigan uses fused Adam on CUDA with ``kernels="auto"``) and the
hinge loss as PyTorch ops (multigan has a fused kernel for it on CUDA).

Only the papers' hinge loss is covered.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

UNIT = "images/s"
N_BATCHES = 4  # synthetic real batches made once and cycled through


def _xavier(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))


def _conv1x1(c_in: int, c_out: int) -> nn.Conv2d:
    return _xavier(nn.Conv2d(c_in, c_out, 1))


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class CondBatchNorm(nn.Module):
    """``gamma[y] * batchnorm(x) + beta[y]``; a plain affine BatchNorm without classes."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gamma = nn.Embedding(num_classes, channels)
            self.beta = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        x = self.bn(x)
        if y is None:
            return x
        return self.gamma(y)[:, :, None, None] * x + self.beta(y)[:, :, None, None]


class GBlock(nn.Module):
    """Residual up-block of G."""

    def __init__(self, ch: int, num_classes: int):
        super().__init__()
        self.b1 = CondBatchNorm(ch, num_classes)
        self.b2 = CondBatchNorm(ch, num_classes)
        self.c1 = _conv3x3(ch, ch)
        self.c2 = _conv3x3(ch, ch)
        self.c_sc = _conv1x1(ch, ch)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.c1(_up(F.relu(self.b1(x, y))))
        h = self.c2(F.relu(self.b2(h, y)))
        return h + self.c_sc(_up(x))


class Generator(nn.Module):
    """(z (N, nz), labels (N,) or None) -> images (N, nc, size, size) in [-1, 1]."""

    def __init__(self, nz: int, image_size: int, nc: int, ch: int, num_classes: int):
        super().__init__()
        self.ch = ch
        self.l1 = _xavier(nn.Linear(nz, 4 * 4 * ch))
        self.blocks = nn.ModuleList(GBlock(ch, num_classes) for _ in range(int(math.log2(image_size)) - 2))
        self.bn = nn.BatchNorm2d(ch)
        self.c_out = _conv3x3(ch, nc)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.l1(z).view(len(z), self.ch, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.c_out(F.relu(self.bn(h))))


class DBlock(nn.Module):
    """Residual block of D: ``first`` (the optimised block on the image) has no leading ReLU and
    pools before its shortcut's convolution; a block that neither pools nor changes width has an
    identity shortcut."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, sn: Callable[[nn.Module], nn.Module]):
        super().__init__()
        self.down, self.first = down, first
        self.c1 = sn(_conv3x3(c_in, c_out))
        self.c2 = sn(_conv3x3(c_out, c_out))
        self.c_sc = sn(_conv1x1(c_in, c_out)) if down or c_in != c_out else None

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.pool(self.c2(F.relu(self.c1(h))))
        if self.c_sc is None:
            return h + x
        if self.first:
            return h + self.c_sc(self.pool(x))
        return h + self.pool(self.c_sc(x))


class Discriminator(nn.Module):
    """(images (N, nc, size, size), labels (N,) or None) -> logits (N,)."""

    def __init__(self, image_size: int, nc: int, ch: int, num_classes: int, use_sn: bool):
        super().__init__()

        def sn(layer: nn.Module) -> nn.Module:
            return spectral_norm(layer) if use_sn else layer

        n_down = int(math.log2(image_size)) - 3  # down to 8x8
        blocks = [DBlock(nc, ch, down=True, first=True, sn=sn)]
        blocks += [DBlock(ch, ch, down=True, first=False, sn=sn) for _ in range(n_down - 1)]
        blocks += [DBlock(ch, ch, down=False, first=False, sn=sn) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.l_out = sn(_xavier(nn.Linear(ch, 1)))
        self.l_y = sn(_xavier(nn.Embedding(num_classes, ch))) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        out = self.l_out(h).view(-1)
        if self.l_y is not None:
            out = out + (self.l_y(y) * h).sum(dim=1)  # the projection of the class embedding
        return out


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    size, nc, k = config["image_size"], config["channels"], config["num_classes"]
    return (Generator(config["latent_dim"], size, nc, config["g_width"], k),
            Discriminator(size, nc, config["d_width"], k, config["spectral_norm"]))


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one training iteration, its units: one batch, ``batch_size`` images, as multigan's
    benchmark counts an iteration whatever ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the sngan baseline has one step, 'train'; got {step!r}")
    if config["loss"] != "hinge":
        raise ValueError(f"the sngan baseline covers the papers' 'hinge' loss, not {config['loss']!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    rng = torch.Generator().manual_seed(0)
    shape = (batch_size, config["channels"], config["image_size"], config["image_size"])
    k = config["num_classes"]
    batches = []
    for _ in range(N_BATCHES):
        images = (torch.rand(shape, generator=rng) * 2 - 1).to(device)
        labels = torch.randint(k, (batch_size,), generator=rng).to(device) if k else None
        batches.append((images, labels))
    reals = itertools.cycle(batches)
    nz, n_critic = config["latent_dim"], config["n_critic"]

    def noise() -> torch.Tensor:
        return torch.randn(batch_size, nz, device=device)

    def run_one_iteration() -> None:
        for p in disc.parameters():
            p.requires_grad_(True)
        for _ in range(n_critic):
            real, labels = next(reals)
            with torch.no_grad():
                fake = gen(noise(), labels)  # fakes for the real batch's labels
            loss_d = d_hinge_loss(disc(real, labels), disc(fake, labels))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        for p in disc.parameters():  # no weight gradients for D during G's update
            p.requires_grad_(False)
        _, labels = next(reals)
        loss_g = g_hinge_loss(disc(gen(noise(), labels), labels))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return run_one_iteration, float(batch_size)


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float | None = None) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G maps ``batch_size`` fresh latents to images, fp32, eval mode,
    under ``torch.inference_mode``, with the labels cycling through the classes (0, 1, ...,
    K - 1, 0, ...) as multigan's ``sample(n)`` asks for; the images it makes). ``seconds`` is for
    the vocoders' baselines and unused here."""
    device = torch.device(device)
    gen = _networks(config)[0].eval().to(device)
    nz, k = config["latent_dim"], config["num_classes"]
    labels = torch.arange(batch_size, device=device) % k if k else None

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return gen(torch.randn(batch_size, nz, device=device), labels)

    return generate, float(batch_size)
