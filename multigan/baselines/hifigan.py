"""Plain-PyTorch HiFi-GAN training loop: the benchmark baseline for multigan's ``hifigan``.

Reproduces multigan's HiFi-GAN (Kong et al. 2020) as a hand-written eager fp32 loop in the style
of the paper's reference training loop. G: a kernel-7 input convolution, then per upsampling rate
``r`` a LeakyReLU (slope 0.1), a transposed convolution of kernel ``2r`` that halves the channels
and a multi-receptive-field fusion (the mean of residual blocks of the version's kernel sizes and
dilations: ResBlock1 for V1 and V2, ResBlock2 for V3), then a LeakyReLU, a kernel-7 convolution
to one channel and tanh; every convolution weight-normed, those after the first initialised from
N(0, 0.01). ``initial_channels`` and ``upsample_rates`` override the version's. D: the
multi-period discriminator (one 2-D sub-discriminator per period of ``mpd_periods``, the waveform
folded into columns of every p-th sample, widths ``mpd_width`` x4 per layer up to 1,024) beside
the multi-scale one (``msd_scales`` scales on the waveform average-pooled by 1, 2, 4, ..., widths
``msd_width`` to 8 x ``msd_width`` up to 1,024, grouped kernel-41 convolutions; spectral norm on
the first scale, weight norm on the others). Losses as the paper writes them: least squares,
``mean((D(x) - 1)^2) + mean(D(G(s))^2)`` for D and ``mean((D(G(s)) - 1)^2)`` for G, summed over
the sub-discriminators; feature matching (the mean absolute difference of every layer's
features) times ``fm_weight``; the L1 distance of natural-log mels times ``mel_weight``. AdamW
with the config's learning rates, betas and ``weight_decay``. One iteration is what one
adversarial step of multigan's trainer does: ``n_critic`` discriminator updates, each on its own
(mel, waveform) batch, then one generator update. The log-mels of the synthetic batches are
computed once, with torchaudio, when the batches are made (multigan's data pipeline computes
them outside the training step too).

How it differs from multigan's trainer (part of what the benchmark compares):

* G's update scores the real batch again with autograd on, as the reference loop does
  (``mpd(y, y_g_hat)``), so G's backward also runs through D's real branch and computes D's
  weight gradients; multigan scores the real batch under ``no_grad`` and freezes D during G's
  update. Both loops make one G forward and four D forwards per iteration with ``n_critic = 1``;
* no finite-loss or finite-gradient checks, no loss logging, and the trainer's gradient
  clipping, EMA of G, mixed precision and learning-rate decay per epoch are not reproduced
  (``grad_clip_*``, ``ema_decay`` and ``lr_decay_per_epoch`` are ignored; the last changes no
  work in an iteration);
* PyTorch's default AdamW (multigan uses the fused one on CUDA with ``kernels="auto"``) and plain
  PyTorch layers (no fused kernels).

:func:`make_generate` times inference instead: G alone, weight norm removed as the reference
inference script does, in eval mode under ``torch.inference_mode``, always in fp32.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

UNIT = "seconds of audio/s"
N_BATCHES = 4      # synthetic (mel, waveform) batches made once and cycled through
SLOPE = 0.1        # every LeakyReLU's negative slope
INIT_STD = 0.01    # G's convolutions after the first start from N(0, INIT_STD^2)
MAX_CHANNELS = 1024
# the paper's generators: (channels, upsampling rates, residual block, kernel sizes, dilations per kernel)
VERSIONS = {
    "v1": (512, (8, 8, 2, 2), 1, (3, 7, 11), ((1, 3, 5),) * 3),
    "v2": (128, (8, 8, 2, 2), 1, (3, 7, 11), ((1, 3, 5),) * 3),
    "v3": (256, (8, 8, 4), 2, (3, 5, 7), ((1, 2), (2, 6), (3, 12))),
}


def _g_conv(*args, **kwargs) -> nn.Module:
    """A weight-normed G convolution initialised from N(0, INIT_STD^2)."""
    conv = nn.Conv1d(*args, **kwargs)
    nn.init.normal_(conv.weight, 0.0, INIT_STD)
    return weight_norm(conv)


def _same(kernel: int, dilation: int = 1) -> int:
    return dilation * (kernel - 1) // 2


class ResBlock1(nn.Module):
    """Per dilation d: ``x + conv(lrelu(conv_d(lrelu(x))))``."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(_g_conv(channels, channels, kernel, dilation=d, padding=_same(kernel, d))
                                    for d in dilations)
        self.convs2 = nn.ModuleList(_g_conv(channels, channels, kernel, padding=_same(kernel)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c1(F.leaky_relu(x, SLOPE))
            xt = c2(F.leaky_relu(xt, SLOPE))
            x = xt + x
        return x


class ResBlock2(nn.Module):
    """Per dilation d: ``x + conv_d(lrelu(x))``."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(_g_conv(channels, channels, kernel, dilation=d, padding=_same(kernel, d))
                                   for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = c(F.leaky_relu(x, SLOPE)) + x
        return x


class Generator(nn.Module):
    """log-mel (N, n_mels, frames) -> waveforms (N, 1, frames * prod(rates))."""

    def __init__(self, n_mels: int, channels: int, rates: tuple[int, ...], resblock: int,
                 kernels: tuple[int, ...], dilations: tuple[tuple[int, ...], ...]):
        super().__init__()
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = ResBlock1 if resblock == 1 else ResBlock2
        ch = channels
        for r in rates:
            up = nn.ConvTranspose1d(ch, ch // 2, 2 * r, r, padding=r // 2 + r % 2, output_padding=r % 2)
            nn.init.normal_(up.weight, 0.0, INIT_STD)
            self.ups.append(weight_norm(up))
            ch //= 2
            self.resblocks.extend(block(ch, k, d) for k, d in zip(kernels, dilations))
        self.num_kernels = len(kernels)
        self.conv_post = _g_conv(ch, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, SLOPE))
            blocks = self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]
            x = sum(block(x) for block in blocks) / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x, SLOPE)))


class DiscriminatorP(nn.Module):
    """One period of the MPD: returns every layer's output, the last being the score map."""

    def __init__(self, period: int, width: int):
        super().__init__()
        self.period = period
        chans = [1] + [min(width * 4 ** i, MAX_CHANNELS) for i in range(4)]
        convs = [nn.Conv2d(a, b, (5, 1), (3, 1), padding=(2, 0)) for a, b in zip(chans, chans[1:])]
        convs.append(nn.Conv2d(chans[-1], chans[-1], (5, 1), padding=(2, 0)))
        self.convs = nn.ModuleList(weight_norm(c) for c in convs)
        self.conv_post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pad = -x.shape[-1] % self.period
        if pad:
            x = F.pad(x, (0, pad), mode="reflect")
        b, c, t = x.shape
        x = x.view(b, c, t // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
            fmap.append(x)
        fmap.append(self.conv_post(x))
        return fmap


class DiscriminatorS(nn.Module):
    """One scale of the MSD: returns every layer's output, the last being the score map."""

    def __init__(self, width: int, norm: Callable[[nn.Module], nn.Module]):
        super().__init__()
        layers = [nn.Sequential(nn.ReflectionPad1d(7), norm(nn.Conv1d(1, width, 15)))]
        ch = width
        for mult, stride, groups in ((1, 2, 4), (2, 2, 16), (4, 4, 16), (8, 4, 16), (8, 1, 16)):
            out = min(width * mult, MAX_CHANNELS)
            layers.append(norm(nn.Conv1d(ch, out, 41, stride, padding=20, groups=groups)))
            ch = out
        out = min(ch * 2, MAX_CHANNELS)
        layers.append(norm(nn.Conv1d(ch, out, 5, padding=2)))
        self.convs = nn.ModuleList(layers)
        self.conv_post = norm(nn.Conv1d(out, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
            fmap.append(x)
        fmap.append(self.conv_post(x))
        return fmap


class Discriminator(nn.Module):
    """The MPD's sub-discriminators, then the MSD's scales: a list of feature lists."""

    def __init__(self, periods: tuple[int, ...], mpd_width: int, msd_scales: int, msd_width: int):
        super().__init__()
        self.periods = nn.ModuleList(DiscriminatorP(p, mpd_width) for p in periods)
        self.scales = nn.ModuleList(DiscriminatorS(msd_width, spectral_norm if i == 0 else weight_norm)
                                    for i in range(msd_scales))
        self.pool = nn.AvgPool1d(4, 2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outputs = [d(x) for d in self.periods]
        for i, d in enumerate(self.scales):
            if i:
                x = self.pool(x)
            outputs.append(d(x))
        return outputs


def _generator(config: dict) -> Generator:
    channels, rates, resblock, kernels, dilations = VERSIONS[config["version"]]
    return Generator(config["mel"]["n_mels"], config["initial_channels"] or channels,
                     tuple(config["upsample_rates"] or rates), resblock, kernels, dilations)


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    disc = Discriminator(tuple(config["mpd_periods"]), config["mpd_width"], config["msd_scales"],
                         config["msd_width"])
    return _generator(config), disc


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def _mel_transform(mel: dict, device: torch.device) -> nn.Module:
    """The magnitude Slaney mel filterbank of the config, uncentred."""
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=mel["sample_rate"], n_fft=mel["n_fft"], win_length=mel["win_length"],
        hop_length=mel["hop_length"], f_min=mel["f_min"], f_max=mel["f_max"] or None, n_mels=mel["n_mels"],
        power=1.0, center=False, norm="slaney", mel_scale="slaney").to(device)


def _log_mel(wav: torch.Tensor, mel: dict, transform: nn.Module) -> torch.Tensor:
    """(N, 1, T) -> (N, n_mels, T // hop): the mel magnitudes of the reflect-padded waveform,
    clamped at ``log_floor`` and logged in the config's base (HiFi-GAN's: natural)."""
    pad = (mel["n_fft"] - mel["hop_length"]) // 2
    spec = transform(F.pad(wav, (pad, pad), mode="reflect").squeeze(1)).clamp(min=mel["log_floor"])
    return spec.log10() if mel["log_base"] == "10" else spec.log()


def _d_loss(real_out: list[list[torch.Tensor]], fake_out: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(torch.mean((r[-1] - 1) ** 2) + torch.mean(f[-1] ** 2) for r, f in zip(real_out, fake_out))


def _g_loss(fake_out: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(torch.mean((f[-1] - 1) ** 2) for f in fake_out)


def _feature_loss(real_out: list[list[torch.Tensor]], fake_out: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(torch.mean(torch.abs(r - f)) for rs, fs in zip(real_out, fake_out) for r, f in zip(rs[:-1], fs[:-1]))


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one training iteration, its units: one batch, ``batch_size * segment_length /
    sample_rate`` seconds of audio, as multigan's benchmark counts an iteration whatever
    ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the hifigan baseline has one step, 'train'; got {step!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    decay = config["weight_decay"]
    opt_g = torch.optim.AdamW(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]), weight_decay=decay)
    opt_d = torch.optim.AdamW(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]),
                              weight_decay=decay)
    rng = torch.Generator().manual_seed(0)
    length, mel = config["segment_length"], config["mel"]
    transform = _mel_transform(mel, device)
    pairs = []
    for _ in range(N_BATCHES):
        wav = (0.1 * torch.randn(batch_size, 1, length, generator=rng)).clamp(-1, 1).to(device)
        pairs.append((_log_mel(wav, mel, transform), wav))
    pairs = itertools.cycle(pairs)
    n_critic, fm_weight, mel_weight = config["n_critic"], config["fm_weight"], config["mel_weight"]

    def run_one_iteration() -> None:
        for k in range(n_critic):
            x, y = next(pairs)
            keep = k == n_critic - 1  # the last batch's fakes are kept, with their graph, for G's update
            with torch.set_grad_enabled(keep):
                y_g_hat = gen(x)
            loss_d = _d_loss(disc(y), disc(y_g_hat.detach()))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        real_out, fake_out = disc(y), disc(y_g_hat)
        loss_mel = F.l1_loss(_log_mel(y_g_hat, mel, transform), x)
        loss_g = _g_loss(fake_out) + fm_weight * _feature_loss(real_out, fake_out) + mel_weight * loss_mel
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return run_one_iteration, batch_size * length / mel["sample_rate"]


def _remove_weight_norm(net: nn.Module) -> nn.Module:
    """Fold every weight norm of ``net`` into a plain weight, in place."""
    for module in net.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight")
    return net


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float = 2.0) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G vocodes ``batch_size`` log-mels of ``seconds`` of audio each
    (standard-normal values), fp32, eval mode, weight norm removed; the seconds of audio it
    makes: ``batch_size * frames * hop / sample_rate``, frames = ``round(seconds *
    sample_rate / hop)``, at least 1)."""
    device = torch.device(device)
    mel = config["mel"]
    hop, rate = mel["hop_length"], mel["sample_rate"]
    frames = max(1, round(seconds * rate / hop))
    gen = _remove_weight_norm(_generator(config).eval()).to(device)
    x = torch.randn(batch_size, mel["n_mels"], frames, generator=torch.Generator().manual_seed(0)).to(device)

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return gen(x)

    return generate, batch_size * frames * hop / rate

