"""WaveGAN (Donahue, McAuley & Puckette, ICLR 2019): DCGAN's idea in one dimension.

G: z ~ U(-1, 1)^100 -> dense -> (16d, 16) -> transposed 1-D convolutions (kernel 25, stride 4)
halving the channels each time -> tanh waveform. D mirrors it with strided convolutions,
LeakyReLU 0.2 and phase shuffle after each of its first four layers, then a dense critic.
No batch norm. Trained as a WGAN-GP (lambda 10) with 5 critic steps per generator step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ... import losses
from ...config import GANConfig, make_config, option
from ...gan import LatentGAN, Losses, Step
from ...kernels import adversarial_loss, phase_shuffle
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


def _width(d: int, segment_length: int) -> int:
    """Channels of the first G (last D) feature map: 16d (the paper's 16,384 samples), 32d for
    the longer variants, 8d for 4,096 samples (so the last hidden layer still has d)."""
    return d * {4096: 8, 16384: 16}.get(segment_length, 32)


class WaveGANGenerator(nn.Module):
    """z (N, latent_dim) -> waveforms (N, 1, segment_length) in [-1, 1].

    With ``post_filter`` taps, the paper's learned post-processing filter: one 1-D convolution
    (no bias) over the last layer's output, free to learn a frequency response that rejects
    the transposed convolutions' artefacts. The reference code applies it after the tanh; here
    it comes before, so that samples stay in [-1, 1]."""

    def __init__(self, latent_dim: int, d: int, segment_length: int, post_filter: int = 0):
        super().__init__()
        ch = _width(d, segment_length)
        self.start = (ch, 16)
        self.project = nn.Linear(latent_dim, ch * 16)
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

    def forward(self, z: Tensor) -> Tensor:
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
    """waveforms (N, 1, segment_length) -> critic values (N,)."""

    def __init__(self, d: int, segment_length: int, shuffle: int, per_batch: bool):
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

    def forward(self, x: Tensor) -> Tensor:
        return self.critic(self.net(x).flatten(1)).flatten()


class WaveGAN(LatentGAN, AudioGAN):
    """WaveGAN trained with WGAN-GP."""

    config: WaveGANConfig
    latent_distribution = "uniform"  # z ~ U(-1, 1), as in the paper
    shares_fakes = True

    def __init__(self, config: WaveGANConfig):
        super().__init__(config,
                         WaveGANGenerator(config.latent_dim, config.model_size, config.segment_length,
                                          config.post_filter_length),
                         WaveGANDiscriminator(config.model_size, config.segment_length, config.phase_shuffle,
                                              config.phase_shuffle_per_batch))

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def segment_length(self) -> int:
        return self.config.segment_length

    def preview(self, batch, n: int) -> Tensor:
        return self.sample(min(n, N_PREVIEW), seed=0)

    def discriminator_loss(self, batch: Tensor, step: Step) -> Losses:
        real, fake = batch, self.discriminator_fakes(batch, step)
        wasserstein = adversarial_loss(self.discriminator(real), self.discriminator(fake), "wasserstein",
                                       impl=self.impl)
        gp = losses.gradient_penalty(self.discriminator, real, fake)
        return {"loss": wasserstein + self.config.gp_weight * gp, "wasserstein": -wasserstein, "gp": gp}

    def generator_loss(self, batch: Tensor, step: Step) -> Losses:
        fake = self.generator_fakes(batch, step)
        return {"loss": adversarial_loss(None, self.discriminator(fake), "wasserstein", impl=self.impl)}


@register_model("wavegan", modality="audio", config=WaveGANConfig)
def wavegan(**overrides) -> WaveGAN:
    """WaveGAN with the paper's defaults (16,384 samples at 16 kHz, d = 64)."""
    return WaveGAN(make_config(WaveGANConfig, overrides))
