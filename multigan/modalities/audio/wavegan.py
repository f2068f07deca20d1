"""WaveGAN (Donahue, McAuley & Puckette, ICLR 2019): DCGAN's idea in one dimension.

G: z ~ U(-1, 1)^100 -> dense -> (16d, 16) -> transposed 1-D convolutions (kernel 25, stride 4)
halving the channels each time -> tanh waveform. D mirrors it with strided convolutions,
LeakyReLU 0.2 and phase shuffle after each of its first four layers, then a dense critic.
No batch norm. Trained as a WGAN-GP (lambda 10) with 5 critic steps per generator step.

With ``num_classes`` above 0 it is class-conditional (the notes' pitches): a learned embedding
of the label is concatenated to z at G's input, and D adds the projection term
``<embed(y), phi(x)>`` of Miyato & Koyama (2018) to its critic value, ``phi(x)`` the features
its dense critic reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ... import losses
from ...config import GANConfig, make_config, option
from ...gan import LatentGAN, Losses, Step
from ...kernels import adversarial_loss, phase_shuffle
from ...labels import check_label_names, names_of
from ...layers import Act, Conv1dAct, ConvTranspose1dAct, in_float32
from ...registry import register_model
from .contract import AudioGAN

KERNEL, STRIDE, PAD = 25, 4, 11  # "same"-style padding: a stride-4 layer maps L to L / 4 exactly
# Layer strides for each output length; the first layer starts from 16 samples. 16,384 is the
# paper's; 32,768 and 65,536 its longer variants; 4,096 one layer fewer, for CPU-sized runs.
STRIDES = {4096: (4, 4, 4, 4), 16384: (4, 4, 4, 4, 4), 32768: (4, 4, 4, 4, 4, 2), 65536: (4, 4, 4, 4, 4, 4)}
N_PREVIEW = 8


@dataclass
class WaveGANConfig(GANConfig):
    """The paper's settings: 16,384 samples at 16 kHz, d = 64, WGAN-GP, Adam 1e-4 (0.5, 0.9)."""

    sample_rate: int = option(16000, "audio sample rate in Hz", low=1)
    segment_length: int = option(16384, "samples per example", choices=tuple(STRIDES))
    model_size: int = option(64, "d: G's last and D's first layer width", low=1)
    latent_dim: int = option(100, "size of z ~ U(-1, 1)", low=1)
    num_classes: int = option(0, "classes G and D are conditioned on (the notes: 8 pitches); 0: unconditional",
                              low=0)
    label_names: tuple[str, ...] = option((), "the classes' names, in index order (default: the indices)")
    post_filter_length: int = option(0, "taps of G's learned post-processing filter (the paper's section 3.3: "
                                        "512; 0: none)", low=0)
    phase_shuffle: int = option(2, "n: D's feature maps shift by up to n samples", low=0)
    phase_shuffle_per_batch: bool = option(False, "one shift per batch (the reference code) instead of per example")
    gp_weight: float = option(10.0, "lambda of the WGAN gradient penalty", low=0)
    n_critic: int = option(5, "critic steps per generator step", low=1)
    lr_g: float = option(1e-4, "generator learning rate (Adam)", low=0, low_open=True)
    lr_d: float = option(1e-4, "discriminator learning rate (Adam)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.5, 0.9), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.5, 0.9), "discriminator Adam betas", low=0, high=1, high_open=True)
    batch_size: int = option(64, "default batch size", low=1)
    max_steps: int = option(2000, "default number of generator steps", low=1)

    def validate(self) -> None:
        check_label_names(self.label_names, self.num_classes)


def _width(d: int, segment_length: int) -> int:
    """Channels of the first G (last D) feature map: 16d (the paper's 16,384 samples), 32d for
    the longer variants, 8d for 4,096 samples (so the last hidden layer still has d)."""
    return d * {4096: 8, 16384: 16}.get(segment_length, 32)


class WaveGANGenerator(nn.Module):
    """z (N, latent_dim) -> waveforms (N, 1, segment_length) in [-1, 1].

    With ``post_filter`` taps, the paper's learned post-processing filter: one 1-D convolution
    (no bias) over the last layer's output, free to learn a frequency response that rejects
    the transposed convolutions' artefacts. The reference code applies it after the tanh; here
    it comes before, so that samples stay in [-1, 1].

    With ``num_classes``, G takes ``(z, labels)``: the label's embedding (``latent_dim`` wide)
    is concatenated to z; without labels it is given every class in turn."""

    def __init__(self, latent_dim: int, d: int, segment_length: int, post_filter: int = 0, num_classes: int = 0):
        super().__init__()
        ch = _width(d, segment_length)
        self.start = (ch, 16)
        self.label = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.project = nn.Linear(latent_dim * (2 if num_classes else 1), ch * 16)
        self.first_act = Act("relu")
        layers: list[nn.Module] = []
        strides = STRIDES[segment_length]
        for i, stride in enumerate(strides):
            last = i == len(strides) - 1
            out = 1 if last else ch // 2
            pad = PAD if stride == 4 else 12
            # each layer's bias and the next layer's ReLU (tanh after the last) are one fused pass
            layers.append(ConvTranspose1dAct(ch, out, KERNEL, stride, pad, output_padding=1,
                                             act="linear" if last and post_filter else "tanh" if last else "relu"))
            ch = out
        if post_filter:
            # zero padding keeps the length ("same"; spelled out for even lengths like 512)
            pad = nn.ConstantPad1d(((post_filter - 1) // 2, post_filter // 2), 0.0)
            layers += [nn.Sequential(pad, nn.Conv1d(1, 1, post_filter, bias=False)), Act("tanh")]
        self.net = nn.Sequential(*layers)
        self.output_layers = 3 if post_filter else 1  # the layers that make the waveform itself

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.label is not None:
            if y is None:
                y = torch.arange(len(z), device=z.device) % self.label.num_embeddings
            z = torch.cat([z, self.label(y).to(z.dtype)], dim=1)
        k = self.output_layers
        x = self.net[:-k](self.first_act(self.project(z).view(z.shape[0], *self.start)))
        return in_float32(self.net[-k:], x)  # the waveform itself: no bf16 rounding noise in it


class PhaseShuffle(nn.Module):
    """Phase shuffle by up to ``n`` samples while training; the identity in eval mode."""

    def __init__(self, n: int, per_batch: bool):
        super().__init__()
        self.n, self.per_batch = n, per_batch
        self.impl = "auto"  # set by GAN.use_kernels

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.n == 0:
            return x
        count = 1 if self.per_batch else x.shape[0]
        shifts = torch.randint(-self.n, self.n + 1, (count,), device=x.device).expand(x.shape[0])
        return phase_shuffle(x, self.n, shifts, impl=self.impl)


class WaveGANDiscriminator(nn.Module):
    """waveforms (N, 1, segment_length) and, with ``num_classes``, labels (N,) -> critic
    values (N,): ``critic(phi(x)) + <embed(y), phi(x)>``, the embedding starting at zero (an
    untrained D ignores the label)."""

    def __init__(self, d: int, segment_length: int, shuffle: int, per_batch: bool, num_classes: int = 0):
        super().__init__()
        strides = tuple(reversed(STRIDES[segment_length]))
        top = _width(d, segment_length)
        layers: list[nn.Module] = []
        ch_in, ch = 1, top // 2 ** (len(strides) - 1)
        for i, stride in enumerate(strides):
            pad = PAD if stride == 4 else 12
            layers.append(Conv1dAct(ch_in, ch, KERNEL, stride, pad, act="lrelu", alpha=0.2))
            if i < len(strides) - 1:
                layers.append(PhaseShuffle(shuffle, per_batch))
            ch_in, ch = ch, ch * 2
        self.net = nn.Sequential(*layers)
        self.critic = nn.Linear(top * 16, 1)
        self.embed = nn.Embedding(num_classes, top * 16) if num_classes else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.net(x).flatten(1)
        out = self.critic(h).flatten()
        if self.embed is not None and y is not None:
            out = out + (self.embed(y) * h).sum(dim=1)
        return out


class WaveGAN(LatentGAN, AudioGAN):
    """WaveGAN trained with WGAN-GP; pitch- (class-) conditional with ``num_classes``."""

    config: WaveGANConfig
    latent_distribution = "uniform"  # z ~ U(-1, 1), as in the paper
    shares_fakes = True

    def __init__(self, config: WaveGANConfig):
        super().__init__(config,
                         WaveGANGenerator(config.latent_dim, config.model_size, config.segment_length,
                                          config.post_filter_length, config.num_classes),
                         WaveGANDiscriminator(config.model_size, config.segment_length, config.phase_shuffle,
                                              config.phase_shuffle_per_batch, config.num_classes))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def segment_length(self) -> int:
        return self.config.segment_length

    @property
    def condition(self) -> str:  # type: ignore[override]  (the contract's class attribute, per config here)
        return "label" if self.config.num_classes else "none"

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def label_names(self) -> tuple[str, ...]:
        return names_of(self.config.label_names, self.config.num_classes)

    def preview(self, batch, n: int) -> Tensor:
        return self.sample(min(n, N_PREVIEW), seed=0)

    def discriminator_loss(self, batch: Any, step: Step) -> Losses:
        (real, labels), fake = self.split_labels(batch), self.discriminator_fakes(batch, step)

        def critic(x: Tensor) -> Tensor:
            return self.discriminator(x, labels)

        wasserstein = adversarial_loss(critic(real), critic(fake), "wasserstein", impl=self.impl)
        gp = losses.gradient_penalty(critic, real, fake)
        return {"loss": wasserstein + self.config.gp_weight * gp, "wasserstein": -wasserstein, "gp": gp}

    def generator_loss(self, batch: Any, step: Step) -> Losses:
        fake, labels = self.generator_fakes(batch, step), self.split_labels(batch)[1]
        return {"loss": adversarial_loss(None, self.discriminator(fake, labels), "wasserstein", impl=self.impl)}


@register_model("wavegan", modality="audio", config=WaveGANConfig)
def wavegan(**overrides) -> WaveGAN:
    """WaveGAN with the paper's defaults (16,384 samples at 16 kHz, d = 64); ``num_classes=8``
    conditions it on the notes' pitches."""
    return WaveGAN(make_config(WaveGANConfig, overrides))
