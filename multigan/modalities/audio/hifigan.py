"""HiFi-GAN (Kong et al., NeurIPS 2020): a mel-spectrogram vocoder with multi-receptive-field
fusion in G and two discriminators that see periodic and multi-scale structure.

G convolves an 80-band log-mel, then upsamples it to the hop (256 = 8 x 8 x 2 x 2 in V1 and
V2, 8 x 8 x 4 in V3) with transposed convolutions (kernel twice the rate, channels halved each
time), each followed by a multi-receptive-field fusion (MRF) block: the mean of residual blocks
of kernel sizes 3, 7, 11 (V3: 3, 5, 7) and their dilations. Weight norm everywhere, LeakyReLU
0.1, tanh out. The three versions:

| version | channels | rates | residual blocks | G parameters |
| --- | --- | --- | --- | --- |
| V1 | 512 | 8, 8, 2, 2 | ResBlock1, kernels 3, 7, 11, dilations (1, 3, 5) each | 13.92 M |
| V2 | 128 | 8, 8, 2, 2 | as V1 | 0.92 M |
| V3 | 256 | 8, 8, 4 | ResBlock2, kernels 3, 5, 7, dilations (1, 2), (2, 6), (3, 12) | 1.46 M |

D is the multi-period discriminator (periods 2, 3, 5, 7, 11: the waveform folded into columns
of every p-th sample, 2-D convolutions along each column) beside the multi-scale one (three
scales, spectral norm on the first, weight norm on the others). Least-squares adversarial loss,
feature matching over every layer of all eight sub-discriminators (weight 2) and the log-mel L1
(weight 45); AdamW 2e-4, betas (0.8, 0.99), weight decay 0.01, learning rates x 0.999 per epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from ... import losses
from ...config import GANConfig, make_config, option
from ...errors import ConfigError
from ...gan import Losses, Step
from ...kernels import adversarial_loss
from ...layers import Act, Conv1dAct, in_float32
from ...registry import register_model
from .discriminators import MAX_CHANNELS, MultiScaleDiscriminator, ScaleDiscriminator
from .features import MelConfig, mel_l1
from .vocoder import MelVocoder

LRELU = 0.1      # every LeakyReLU's negative slope
INIT_STD = 0.01  # G's convolutions after the first start this small: each residual block near identity
MSD_GROUPS = 16  # the multi-scale discriminator's widest grouping (its width must be a multiple)


class Version(NamedTuple):
    """One of the paper's generators: its channels before the first upsampling, its upsampling
    rates, its residual block (1 or 2), and that block's kernel sizes and dilations per kernel."""

    channels: int
    rates: tuple[int, ...]
    resblock: int
    kernels: tuple[int, ...]
    dilations: tuple[tuple[int, ...], ...]


VERSIONS = {
    "v1": Version(512, (8, 8, 2, 2), 1, (3, 7, 11), ((1, 3, 5),) * 3),
    "v2": Version(128, (8, 8, 2, 2), 1, (3, 7, 11), ((1, 3, 5),) * 3),
    "v3": Version(256, (8, 8, 4), 2, (3, 5, 7), ((1, 2), (2, 6), (3, 12))),
}


@dataclass
class HiFiGANConfig(GANConfig):
    """The paper's settings: V1 on an 80-band natural-log mel at 22,050 Hz, hop 256, 8,192-sample
    segments, batch 16, AdamW 2e-4 with betas (0.8, 0.99), decayed by 0.999 per epoch."""

    mel: MelConfig = option(MelConfig(log_base="e"), "the mel front end, the condition and the mel loss's; "
                                                     "saved with the model (mel.<key>=... to change)")
    version: str = option("v1", "the paper's generator: v1 (quality), v2 (small), v3 (fast)",
                          choices=tuple(VERSIONS))
    initial_channels: int | None = option(None, "G's channels before the first upsampling, halved by each "
                                                "(None: the version's, 512, 128 or 256)", low=1)
    upsample_rates: tuple[int, ...] | None = option(None, "G's upsampling factors, each with a kernel twice its "
                                                          "size; their product is the hop (None: the version's)",
                                                    low=1)
    segment_length: int = option(8192, "samples per training segment (a multiple of mel.hop_length)", low=1)
    mpd_periods: tuple[int, ...] = option((2, 3, 5, 7, 11), "the multi-period discriminator's periods", low=2)
    mpd_width: int = option(32, "channels of each period discriminator's first layer (x4 per layer, at most "
                                "1024)", low=1)
    msd_scales: int = option(3, "multi-scale discriminators, each on a 2x more pooled waveform", low=1)
    msd_width: int = option(128, "channels of each scale discriminator's first layer (a multiple of 16)", low=16)
    fm_weight: float = option(2.0, "feature matching weight", low=0)
    mel_weight: float = option(45.0, "mel-spectrogram L1 weight", low=0)
    lr_g: float = option(2e-4, "generator learning rate (AdamW)", low=0, low_open=True)
    lr_d: float = option(2e-4, "discriminator learning rate (AdamW)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.8, 0.99), "generator AdamW betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.8, 0.99), "discriminator AdamW betas", low=0, high=1, high_open=True)
    weight_decay: float = option(0.01, "AdamW's decoupled weight decay, G and D (0: plain Adam)", low=0)
    lr_decay_per_epoch: float = option(0.999, "both learning rates are multiplied by this once per epoch of the "
                                              "data", low=0, high=1, low_open=True)
    batch_size: int = option(16, "default batch size", low=1)
    max_steps: int = option(2000, "default number of generator steps (the paper: 2.5 M for V1)", low=1)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    @property
    def generator_layout(self) -> Version:
        """The version's generator with ``initial_channels`` and ``upsample_rates`` applied."""
        v = VERSIONS[self.version]
        return v._replace(channels=self.initial_channels or v.channels, rates=self.upsample_rates or v.rates)

    def validate(self) -> None:
        layout, hop = self.generator_layout, self.mel.hop_length
        if math.prod(layout.rates) != hop:
            raise ConfigError(f"HiFi-GAN's upsample_rates {layout.rates} multiply to {math.prod(layout.rates)}, but "
                              f"mel.hop_length is {hop}: each mel frame must become exactly one hop of samples; "
                              "set upsample_rates to factors of the hop")
        if layout.channels >> len(layout.rates) < 1:
            raise ConfigError(f"initial_channels {layout.channels} cannot be halved {len(layout.rates)} times "
                              f"(once per upsampling): use at least {2 ** len(layout.rates)}")
        if self.segment_length % hop:
            raise ConfigError(f"segment_length {self.segment_length} is not a multiple of mel.hop_length {hop}; "
                              f"use {max(1, round(self.segment_length / hop)) * hop}")
        if self.msd_width % MSD_GROUPS:
            fit = max(1, round(self.msd_width / MSD_GROUPS)) * MSD_GROUPS
            raise ConfigError(f"msd_width {self.msd_width} is not a multiple of {MSD_GROUPS}, the scale "
                              f"discriminators' channel groups; use {fit}")


def _conv(*args, act: str | None = None, **kwargs) -> nn.Module:
    """A weight-normed Conv1d of G, initialised from N(0, INIT_STD^2); with ``act``, its bias and
    that activation fused."""
    conv = (nn.Conv1d(*args, **kwargs) if act is None else
            Conv1dAct(*args, act=act, alpha=LRELU if act == "lrelu" else None, **kwargs))
    nn.init.normal_(conv.weight, 0.0, INIT_STD)
    return weight_norm(conv)


def _padding(kernel: int, dilation: int = 1) -> int:
    return dilation * (kernel - 1) // 2  # the output as long as the input


class ResBlock1(nn.Module):
    """For each dilation d: ``x + conv_1(lrelu(conv_d(lrelu(x))))``, both convolutions of kernel
    ``kernel``, the first dilated by d."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.act = Act("lrelu", LRELU)
        self.dilated = nn.ModuleList(_conv(channels, channels, kernel, dilation=d, padding=_padding(kernel, d),
                                           act="lrelu") for d in dilations)
        self.plain = nn.ModuleList(_conv(channels, channels, kernel, padding=_padding(kernel)) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for dilated, plain in zip(self.dilated, self.plain):
            x = x + plain(dilated(self.act(x)))
        return x


class ResBlock2(nn.Module):
    """For each dilation d: ``x + conv_d(lrelu(x))`` (V3's lighter block)."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.act = Act("lrelu", LRELU)
        self.convs = nn.ModuleList(_conv(channels, channels, kernel, dilation=d, padding=_padding(kernel, d))
                                   for d in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(self.act(x))
        return x


class MRF(nn.Module):
    """Multi-receptive-field fusion: the mean of residual blocks of different kernel sizes and
    dilations, all on the same input, so one stage hears patterns of several lengths."""

    def __init__(self, channels: int, layout: Version):
        super().__init__()
        block = ResBlock1 if layout.resblock == 1 else ResBlock2
        self.blocks = nn.ModuleList(block(channels, k, d) for k, d in zip(layout.kernels, layout.dilations))

    def forward(self, x: Tensor) -> Tensor:
        return sum(block(x) for block in self.blocks) / len(self.blocks)


class HiFiGANGenerator(nn.Module):
    """log-mel (N, n_mels, frames) -> waveforms (N, 1, frames * hop) in [-1, 1]."""

    def __init__(self, n_mels: int, layout: Version):
        super().__init__()
        ch = layout.channels
        self.pre = weight_norm(nn.Conv1d(n_mels, ch, 7, padding=3))
        stages = []
        for r in layout.rates:
            # kernel 2r: each output sample mixes two input frames; odd rates pad one more sample
            up = nn.ConvTranspose1d(ch, ch // 2, 2 * r, r, padding=r // 2 + r % 2, output_padding=r % 2)
            nn.init.normal_(up.weight, 0.0, INIT_STD)
            stages.append(nn.Sequential(Act("lrelu", LRELU), weight_norm(up), MRF(ch // 2, layout)))
            ch //= 2
        self.stages = nn.Sequential(*stages)
        self.post = nn.Sequential(Act("lrelu", LRELU), _conv(ch, 1, 7, padding=3, act="tanh"))

    def forward(self, mel: Tensor) -> Tensor:
        return in_float32(self.post, self.stages(self.pre(mel)))  # the waveform itself: no bf16 rounding noise


def fold_by_period(x: Tensor, period: int) -> Tensor:
    """Waveforms (N, C, T) as (N, C, ceil(T / period), period): the end reflection-padded to a
    whole number of periods, then row i holds samples i * period to i * period + period - 1, so
    column j holds samples j, j + period, j + 2 * period, ..."""
    pad = -x.shape[-1] % period
    if pad:
        x = F.pad(x, (0, pad), mode="reflect")
    return x.reshape(*x.shape[:-1], -1, period)


class PeriodDiscriminator(nn.Module):
    """One sub-discriminator of the MPD: the waveform folded by ``period``
    (:func:`fold_by_period`), four (5, 1) convolutions of stride (3, 1) from ``width`` channels
    (x4 each, at most 1,024), one more unstrided, and a (3, 1) score map; the kernels span rows
    only, so each column (each phase of the period) is processed on its own. Returns every
    layer's output, the last being the score map."""

    def __init__(self, period: int, width: int):
        super().__init__()
        self.period = period
        chans = [1] + [min(width * 4 ** i, MAX_CHANNELS) for i in range(4)]
        convs = [nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)) for a, b in zip(chans, chans[1:])]
        convs.append(nn.Conv2d(chans[-1], chans[-1], (5, 1), padding=(2, 0)))
        self.convs = nn.ModuleList(weight_norm(c) for c in convs)
        self.score = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0)))
        self.act = Act("lrelu", LRELU)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = fold_by_period(x, self.period)
        features = []
        for conv in self.convs:
            x = self.act(conv(x))
            features.append(x)
        features.append(self.score(x))
        return features


def _msd_layers(width: int) -> list[tuple[int, int, int, int]]:
    """The MSD's strided layers, (out channels, kernel, stride, groups): widths w, 2w, 4w, 8w, 8w
    (at most 1,024), kernel 41, strides 2, 2, 4, 4, 1, groups 4 then 16."""
    return [(min(width * m, MAX_CHANNELS), 41, stride, groups)
            for m, stride, groups in ((1, 2, 4), (2, 2, MSD_GROUPS), (4, 4, MSD_GROUPS), (8, 4, MSD_GROUPS),
                                      (8, 1, MSD_GROUPS))]


class HiFiGANDiscriminator(nn.Module):
    """The multi-period discriminator and the multi-scale discriminator (the first scale
    spectral-normed, for stability on the raw waveform; the others weight-normed). Returns, per
    sub-discriminator (periods first, then scales), the list of its layer outputs, the last
    being its score map."""

    def __init__(self, periods: tuple[int, ...], mpd_width: int, msd_scales: int, msd_width: int):
        super().__init__()
        self.mpd = nn.ModuleList(PeriodDiscriminator(p, mpd_width) for p in periods)
        self.msd = MultiScaleDiscriminator([
            ScaleDiscriminator(msd_width, _msd_layers(msd_width), LRELU, norm=spectral_norm if i == 0 else weight_norm)
            for i in range(msd_scales)])

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        return [d(x) for d in self.mpd] + self.msd(x)


class HiFiGAN(MelVocoder):
    """HiFi-GAN: conditional on mel spectrograms; ``sample(cond=mel)`` vocodes."""

    config: HiFiGANConfig
    default_data = "speech"   # a speech vocoder: `multigan train hifigan` trains on the built-in speech

    def __init__(self, config: HiFiGANConfig):
        super().__init__(config, HiFiGANGenerator(config.mel.n_mels, config.generator_layout),
                         HiFiGANDiscriminator(config.mpd_periods, config.mpd_width, config.msd_scales,
                                              config.msd_width))

    def lr_factor(self, step: int, batches_per_epoch: int) -> float:
        """``lr_decay_per_epoch ** epoch``: the paper's exponential decay, stepped once per epoch
        (one batch per adversarial step)."""
        return self.config.lr_decay_per_epoch ** (step // batches_per_epoch)

    def _least_squares(self, real: Tensor | None, fake: Tensor) -> Tensor:
        # the paper's (D(x) - 1)^2 + D(G(s))^2 and (D(G(s)) - 1)^2: twice multigan's least
        # squares, which halves each term as Mao et al. write it (x2 is exact in floating point)
        return 2 * adversarial_loss(real, fake, "least_squares", impl=self.impl)

    def discriminator_loss(self, batch, step: Step) -> Losses:
        """The least-squares loss summed over the eight sub-discriminators."""
        _, real = batch
        real_out, fake_out = self.discriminator(real), self.discriminator(self.discriminator_fakes(batch, step))
        return {"loss": sum(self._least_squares(r[-1], f[-1]) for r, f in zip(real_out, fake_out))}

    def generator_loss(self, batch, step: Step) -> Losses:
        """The least-squares loss summed over the sub-discriminators, ``fm_weight`` times the L1
        distance of every layer's features of the real and the vocoded batch (the real ones
        from D as it is now, after its update, as the authors' loop does), and ``mel_weight``
        times the log-mel L1 to the batch's mel."""
        c = self.config
        mel, real = batch
        fake = self.generator_fakes(batch, step)
        fake_out = self.discriminator(fake)
        with torch.no_grad():
            real_out = self.discriminator(real)
        adversarial = sum(self._least_squares(None, f[-1]) for f in fake_out)
        fm = sum(losses.feature_matching(r, f) for r, f in zip(real_out, fake_out))
        mel_loss = mel_l1(self.mel, fake, mel)
        return {"loss": adversarial + c.fm_weight * fm + c.mel_weight * mel_loss, "adversarial": adversarial,
                "feature_matching": fm, "mel": mel_loss}


@register_model("hifigan", modality="audio", config=HiFiGANConfig)
def hifigan(**overrides) -> HiFiGAN:
    """HiFi-GAN with the paper's defaults (V1; ``version="v2"`` or ``"v3"`` for the others)."""
    return HiFiGAN(make_config(HiFiGANConfig, overrides))
