"""MelGAN (Kumar et al., NeurIPS 2019): a fully convolutional mel-spectrogram vocoder.

G upsamples an 80-band log-mel by 8, 8, 2, 2 (= the hop of 256) with transposed convolutions,
each followed by a residual stack of dilated convolutions (dilations 1, 3, 9); weight norm
everywhere. D is three identical discriminators on the raw, 2x and 4x average-pooled
waveform. Hinge loss plus feature matching (weight 10), Adam 1e-4 with betas (0.5, 0.9).
Options from Parallel WaveGAN: its multi-resolution STFT loss as an auxiliary G loss, and a
warm-up of G on that loss alone before D joins; from HiFi-GAN: its mel-spectrogram L1 loss, in
the warm-up and beside the adversarial loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ... import losses
from ...config import GANConfig, make_config, option
from ...errors import ConfigError
from ...gan import Losses, Phase, Step
from ...kernels import adversarial_loss
from ...layers import Act, Conv1dAct, in_float32
from ...registry import register_model
from .discriminators import MAX_CHANNELS, MultiScaleDiscriminator, ScaleDiscriminator, StridedLayer
from .features import STFT_RESOLUTIONS, MelConfig, mel_l1, multi_resolution_stft_distance
from .vocoder import MelVocoder

LRELU = 0.2  # every LeakyReLU's negative slope


def _conv(*args, act: str | None = None, **kwargs) -> nn.Module:
    """A weight-normed Conv1d; with ``act``, its bias and that activation fused (LeakyReLU 0.2)."""
    if act is None:
        return weight_norm(nn.Conv1d(*args, **kwargs))
    return weight_norm(Conv1dAct(*args, act=act, alpha=LRELU if act == "lrelu" else None, **kwargs))


def _conv_transpose(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


def _ratios_for(hop: int) -> tuple[int, ...]:
    """Upsampling ratios (each at most 8, largest first) whose product is ``hop``, if any."""
    ratios, rest = [], hop
    while rest > 1:
        factor = next((f for f in range(8, 1, -1) if rest % f == 0), None)
        if factor is None:
            return ()
        ratios.append(factor)
        rest //= factor
    return tuple(ratios)


@dataclass
class MelGANConfig(GANConfig):
    """The paper's settings: 80-band log-mel at 22,050 Hz, hop 256, 8,192-sample segments."""

    mel: MelConfig = option(MelConfig(), "the mel front end; saved with the model (mel.<key>=... to change)")
    segment_length: int = option(8192, "samples per training segment (a multiple of mel.hop_length)", low=1)
    upsample_ratios: tuple[int, ...] = option((8, 8, 2, 2), "G's upsampling factors; their product is the hop", low=1)
    g_width: int = option(32, "ngf: G's channels after the last upsampling (x2 per earlier stage)", low=1)
    residual_layers: int = option(3, "dilated residual blocks per stage (dilations 1, 3, 9, ...)", low=1)
    num_d: int = option(3, "discriminators, each on a 2x more pooled waveform", low=1)
    d_width: int = option(16, "ndf: channels of each discriminator's first layer", low=1)
    d_layers: int = option(4, "strided layers per discriminator", low=1)
    d_stride: int = option(4, "downsampling factor of each strided layer", low=1)
    fm_weight: float = option(10.0, "feature matching weight", low=0)
    stft_loss_weight: float = option(0.0, "Parallel WaveGAN's multi-resolution STFT loss for G (0: off)", low=0)
    mel_loss_weight: float = option(0.0, "HiFi-GAN's mel-spectrogram L1 loss for G, in the warm-up too (0: off; "
                                         "HiFi-GAN: 45)", low=0)
    stft_warmup_steps: int = option(0, "G-only steps on the STFT loss (plus the weighted mel loss) before D joins "
                                       "(Parallel WaveGAN's schedule; 0: none, as in the MelGAN paper)", low=0)
    lr_g: float = option(1e-4, "generator learning rate (Adam)", low=0, low_open=True)
    lr_warmup: float | None = option(None, "the warm-up's learning rate, with an Adam of its own, so that the "
                                           "adversarial phase starts afresh at lr_g (None: lr_g, on G's optimiser)",
                                     low=0, low_open=True)
    lr_d: float = option(1e-4, "discriminator learning rate (Adam)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.5, 0.9), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.5, 0.9), "discriminator Adam betas", low=0, high=1, high_open=True)
    batch_size: int = option(16, "default batch size", low=1)
    max_steps: int = option(2000, "default number of generator steps", low=1)

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    def validate(self) -> None:
        hop, product = self.mel.hop_length, math.prod(self.upsample_ratios)
        if product != hop:
            hint = _ratios_for(hop)
            suggestion = (f"set upsample_ratios={','.join(map(str, hint))}" if hint else
                          "choose a hop whose factors are all 8 or less (e.g. 256 or 200)")
            raise ConfigError(f"MelGAN's upsample_ratios {self.upsample_ratios} multiply to {product}, but "
                              f"mel.hop_length is {hop}: each mel frame must become exactly one hop of "
                              f"samples; {suggestion}")
        if self.segment_length % hop:
            raise ConfigError(f"segment_length {self.segment_length} is not a multiple of mel.hop_length {hop}; "
                              f"use {max(1, round(self.segment_length / hop)) * hop}")
        longest = max(n_fft for n_fft, _, _ in STFT_RESOLUTIONS)
        if (self.stft_loss_weight > 0 or self.stft_warmup_steps > 0) and self.segment_length <= longest // 2:
            raise ConfigError(f"segment_length {self.segment_length} is too short for the multi-resolution STFT "
                              f"loss, whose longest window is {longest} samples: use a segment_length above "
                              f"{longest // 2}, or set stft_loss_weight=0 and stft_warmup_steps=0")


class ResidualStack(nn.Module):
    """Residual blocks with dilations 1, 3, 9, ...: LReLU, dilated conv 3, LReLU, conv 1."""

    def __init__(self, channels: int, n_layers: int):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(
            Act("lrelu", LRELU), nn.ReflectionPad1d(3 ** i),
            _conv(channels, channels, 3, dilation=3 ** i, act="lrelu"),
            _conv(channels, channels, 1)) for i in range(n_layers))
        self.shortcuts = nn.ModuleList(_conv(channels, channels, 1) for _ in range(n_layers))

    def forward(self, x: Tensor) -> Tensor:
        for block, shortcut in zip(self.blocks, self.shortcuts):
            x = shortcut(x) + block(x)
        return x


class MelGANGenerator(nn.Module):
    """log-mel (N, n_mels, frames) -> waveforms (N, 1, frames * hop) in [-1, 1]."""

    def __init__(self, n_mels: int, ratios: tuple[int, ...], width: int, residual_layers: int):
        super().__init__()
        ch = width * 2 ** len(ratios)
        # the first convolution's LeakyReLU is fused into it; later ones act on residual sums
        layers: list[nn.Module] = [nn.ReflectionPad1d(3), _conv(n_mels, ch, 7, act="lrelu")]
        for i, r in enumerate(ratios):
            if i:
                layers.append(Act("lrelu", LRELU))
            layers += [_conv_transpose(ch, ch // 2, 2 * r, r, padding=r // 2 + r % 2, output_padding=r % 2),
                       ResidualStack(ch // 2, residual_layers)]
            ch //= 2
        layers += [Act("lrelu", LRELU), nn.ReflectionPad1d(3), _conv(ch, 1, 7, act="tanh")]
        self.net = nn.Sequential(*layers)

    def forward(self, mel: Tensor) -> Tensor:
        return in_float32(self.net[-1], self.net[:-1](mel))  # the waveform itself: no bf16 rounding noise in it


def _strided_layers(width: int, n_layers: int, stride: int) -> list[StridedLayer]:
    """D's strided layers: each ``stride`` times wider (at most 1,024), kernel ``10 * stride + 1``,
    groups of 4 input channels."""
    layers, ch = [], width
    for _ in range(n_layers):
        out = min(ch * stride, MAX_CHANNELS)
        layers.append((out, stride * 10 + 1, stride, ch // 4))
        ch = out
    return layers


class MelGAN(MelVocoder):
    """MelGAN: conditional on mel spectrograms; ``sample(cond=mel)`` vocodes."""

    config: MelGANConfig

    def __init__(self, config: MelGANConfig):
        super().__init__(config,
                         MelGANGenerator(config.mel.n_mels, config.upsample_ratios, config.g_width,
                                         config.residual_layers),
                         MultiScaleDiscriminator([
                             ScaleDiscriminator(config.d_width, _strided_layers(config.d_width, config.d_layers,
                                                                                config.d_stride), LRELU)
                             for _ in range(config.num_d)]))

    def stft_loss(self, batch, step: Step) -> Losses:
        """G alone, fitted by the multi-resolution STFT loss plus ``mel_loss_weight`` times the
        mel loss (the warm-up phase)."""
        mel, real = batch
        fake = self.generator(mel)
        out = {"loss": multi_resolution_stft_distance(fake, real)}
        if self.config.mel_loss_weight > 0:
            out["mel"] = mel_l1(self.mel, fake, mel)
            out["loss"] = out["loss"] + self.config.mel_loss_weight * out["mel"]
        return out

    def phases(self, batches_per_epoch: int) -> list[Phase]:
        steps = self.config.stft_warmup_steps
        losses = "the multi-resolution STFT" + (" and mel" if self.config.mel_loss_weight > 0 else "")
        lr = self.config.lr_warmup
        return [Phase("stft_warmup", "generator", steps, self.stft_loss, own_optimizer=lr is not None, lr=lr,
                      trains=f"G alone on {losses} losses")] if steps else []

    def discriminator_loss(self, batch, step: Step) -> Losses:
        """The hinge loss summed over scales. In a shared step (``step.fake`` given), D's features
        of the real batch are kept, detached, in ``step.kept`` as the feature-matching targets of
        the generator update that follows on the same fakes: they come from D before its
        update, as in the reference training loop, and D need not score the real batch again."""
        _, real = batch
        real_out, fake_out = self.discriminator(real), self.discriminator(self.discriminator_fakes(batch, step))
        if step.fake is not None:
            step.kept["real_features"] = [[t.detach() for t in out[:-1]] for out in real_out]
        loss = sum(adversarial_loss(r[-1], f[-1], "hinge", impl=self.impl) for r, f in zip(real_out, fake_out))
        return {"loss": loss}

    def generator_loss(self, batch, step: Step) -> Losses:
        """Hinge, feature matching against D's real features (those D's loss kept in this step,
        else the current D's) and, when weighted, the multi-resolution STFT and mel losses."""
        c = self.config
        mel, real = batch
        fake = self.generator_fakes(batch, step)
        fake_out = self.discriminator(fake)
        real_features = step.kept.get("real_features")
        if real_features is None:
            with torch.no_grad():
                real_features = [out[:-1] for out in self.discriminator(real)]
        adversarial = sum(adversarial_loss(None, f[-1], "hinge", impl=self.impl) for f in fake_out)
        # each layer's L1, weighted 1/num_D * 4/(n_layers + 1) as in the reference code
        weight = 1.0 / c.num_d * 4.0 / (c.d_layers + 1)
        fm = sum(losses.feature_matching(r, f[:-1], [weight] * (len(f) - 1))
                 for r, f in zip(real_features, fake_out))
        out = {"loss": adversarial + c.fm_weight * fm, "adversarial": adversarial, "feature_matching": fm}
        if c.stft_loss_weight > 0:
            stft = multi_resolution_stft_distance(fake, real)
            out["loss"] = out["loss"] + c.stft_loss_weight * stft
            out["stft"] = stft
        if c.mel_loss_weight > 0:
            out["mel"] = mel_l1(self.mel, fake, mel)
            out["loss"] = out["loss"] + c.mel_loss_weight * out["mel"]
        return out


@register_model("melgan", modality="audio", config=MelGANConfig)
def melgan(**overrides) -> MelGAN:
    """MelGAN with the paper's defaults (80-band log-mel at 22,050 Hz, hop 256)."""
    return MelGAN(make_config(MelGANConfig, overrides))
