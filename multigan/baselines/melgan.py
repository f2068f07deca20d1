"""Plain-PyTorch MelGAN training loop: the benchmark baseline for multigan's ``melgan``.

Reproduces multigan's MelGAN as a hand-written eager fp32 loop in the style of the MelGAN
reference training loop: the same weight-normalised layers (G: a kernel-7 input convolution,
one transposed convolution per upsampling ratio each followed by dilated residual blocks; D:
``num_d`` grouped strided-convolution discriminators on the waveform average-pooled by 1, 2, 4,
...), PyTorch's default initialisation, the hinge loss summed over scales, feature matching
weighted ``fm_weight / num_d * 4 / (d_layers + 1)`` per layer, Parallel WaveGAN's
multi-resolution STFT loss when ``stft_loss_weight > 0``, HiFi-GAN's mel L1 loss when
``mel_loss_weight > 0``, and Adam with the config's learning
rates and betas. One iteration is what one adversarial step of multigan's trainer does:
``n_critic`` discriminator updates, each on its own (mel, waveform) batch, then one generator
update. The log-mels are computed once, with torchaudio, when the synthetic batches are made:
multigan's data pipeline computes them too (``MelPairs``), outside the training step.

How it differs from multigan's trainer (part of what the benchmark compares):

* nothing in the order of work: G's update reuses the last D update's batch, its fake waveforms
  (generated with autograd on) and D's real features (detached, from before D's update), as the
  reference loop does and as multigan's trainer does with ``n_critic = 1``: per iteration one G
  forward and three D forwards;
* G's backward also computes D's weight gradients (multigan freezes D during G's update);
* no finite-loss or finite-gradient checks, no loss logging, and the trainer's gradient
  clipping, EMA of G and mixed precision are not reproduced (``grad_clip_*`` and ``ema_decay``
  are ignored; their defaults are off);
* PyTorch's default Adam (multigan uses fused Adam on CUDA with ``kernels="auto"``) and
  plain PyTorch layers (no fused kernels).

An iteration is adversarial: the optional STFT warm-up phase (``stft_warmup_steps``) is not
part of it.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

UNIT = "seconds of audio/s"
N_BATCHES = 4  # synthetic (mel, waveform) batches made once and cycled through
# Parallel WaveGAN's STFT resolutions: (FFT size, hop, window length)
STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def _wn_conv(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.Conv1d(*args, **kwargs))


def _wn_conv_transpose(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


class ResidualBlock(nn.Module):
    """x + block(x), the block a dilated kernel-3 convolution then a 1x1, the skip a 1x1."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.block = nn.Sequential(nn.LeakyReLU(0.2), nn.ReflectionPad1d(dilation),
                                   _wn_conv(dim, dim, 3, dilation=dilation),
                                   nn.LeakyReLU(0.2), _wn_conv(dim, dim, 1))
        self.shortcut = _wn_conv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class Generator(nn.Module):
    """log-mel (N, n_mels, frames) -> waveforms (N, 1, frames * prod(ratios))."""

    def __init__(self, n_mels: int, ratios: tuple[int, ...], ngf: int, n_residual: int):
        super().__init__()
        dim = ngf * 2 ** len(ratios)
        layers: list[nn.Module] = [nn.ReflectionPad1d(3), _wn_conv(n_mels, dim, 7)]
        for r in ratios:
            layers += [nn.LeakyReLU(0.2),
                       _wn_conv_transpose(dim, dim // 2, 2 * r, r, padding=r // 2 + r % 2, output_padding=r % 2)]
            dim //= 2
            layers += [ResidualBlock(dim, 3 ** j) for j in range(n_residual)]
        layers += [nn.LeakyReLU(0.2), nn.ReflectionPad1d(3), _wn_conv(dim, 1, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)


class ScaleDiscriminator(nn.Module):
    """One scale: returns the output of every layer (the last is the score map)."""

    def __init__(self, ndf: int, n_layers: int, stride: int):
        super().__init__()
        layers = [nn.Sequential(nn.ReflectionPad1d(7), _wn_conv(1, ndf, 15), nn.LeakyReLU(0.2))]
        dim = ndf
        for _ in range(n_layers):
            out = min(dim * stride, 1024)
            layers.append(nn.Sequential(_wn_conv(dim, out, stride * 10 + 1, stride, padding=stride * 5,
                                                 groups=dim // 4), nn.LeakyReLU(0.2)))
            dim = out
        out = min(dim * 2, 1024)
        layers += [nn.Sequential(_wn_conv(dim, out, 5, padding=2), nn.LeakyReLU(0.2)),
                   _wn_conv(out, 1, 3, padding=1)]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class Discriminator(nn.Module):
    """``num_d`` scales, each on the waveform pooled once more than the previous one's."""

    def __init__(self, num_d: int, ndf: int, n_layers: int, stride: int):
        super().__init__()
        self.scales = nn.ModuleList(ScaleDiscriminator(ndf, n_layers, stride) for _ in range(num_d))
        self.downsample = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i, scale in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            results.append(scale(x))
        return results


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    gen = Generator(config["mel"]["n_mels"], tuple(config["upsample_ratios"]), config["g_width"],
                     config["residual_layers"])
    disc = Discriminator(config["num_d"], config["d_width"], config["d_layers"], config["d_stride"])
    return gen, disc


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
    """(N, 1, T) -> (N, n_mels, T // hop): ``transform`` (:func:`_mel_transform`) of the
    reflect-padded waveform, clamped and logged as the config says."""
    pad = (mel["n_fft"] - mel["hop_length"]) // 2
    spec = transform(F.pad(wav, (pad, pad), mode="reflect").squeeze(1)).clamp(min=mel["log_floor"])
    return spec.log10() if mel["log_base"] == "10" else spec.log()


def _stft_loss(fake: torch.Tensor, real: torch.Tensor, windows: list[torch.Tensor]) -> torch.Tensor:
    """Multi-resolution STFT loss: per resolution, the spectral convergence (per example, then
    averaged) plus the L1 distance of log magnitudes; averaged over resolutions."""
    loss = 0.0
    for (n_fft, hop, win), window in zip(STFT_RESOLUTIONS, windows):
        mag_f, mag_r = (torch.stft(x.squeeze(1), n_fft, hop, win, window, return_complex=True).abs().clamp(min=1e-7)
                        for x in (fake, real))
        convergence = torch.linalg.norm(mag_r - mag_f, dim=(-2, -1)) / torch.linalg.norm(mag_r, dim=(-2, -1))
        loss = loss + convergence.mean() + F.l1_loss(mag_f.log(), mag_r.log())
    return loss / len(STFT_RESOLUTIONS)


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one training iteration, its units: one batch, ``batch_size * segment_length /
    sample_rate`` seconds of audio, as multigan's benchmark counts an iteration whatever
    ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the melgan baseline has one step, 'train'; got {step!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    rng = torch.Generator().manual_seed(0)
    length, mel = config["segment_length"], config["mel"]
    transform = _mel_transform(mel, device)
    pairs = []
    for _ in range(N_BATCHES):
        wav = (0.1 * torch.randn(batch_size, 1, length, generator=rng)).clamp(-1, 1).to(device)
        pairs.append((_log_mel(wav, mel, transform), wav))
    pairs = itertools.cycle(pairs)
    n_critic, fm_weight, stft_weight = config["n_critic"], config["fm_weight"], config["stft_loss_weight"]
    mel_weight = config["mel_loss_weight"]
    feat_weight = 1.0 / config["num_d"] * 4.0 / (config["d_layers"] + 1)
    windows = [torch.hann_window(win, device=device) for _, _, win in STFT_RESOLUTIONS]

    def run_one_iteration() -> None:
        for k in range(n_critic):
            mel_in, real = next(pairs)
            keep = k == n_critic - 1  # the last batch's fakes are kept, with their graph, for G's update
            with torch.set_grad_enabled(keep):
                fake = gen(mel_in)
            fake_out = disc(fake.detach())
            real_out = disc(real)
            loss_d = sum(F.relu(1 + f[-1]).mean() + F.relu(1 - r[-1]).mean() for f, r in zip(fake_out, real_out))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        fake_out = disc(fake)
        adversarial = sum(-f[-1].mean() for f in fake_out)
        matching = sum(feat_weight * F.l1_loss(f, r.detach())
                       for fs, rs in zip(fake_out, real_out) for f, r in zip(fs[:-1], rs[:-1]))
        loss_g = adversarial + fm_weight * matching
        if stft_weight > 0:
            loss_g = loss_g + stft_weight * _stft_loss(fake, real, windows)
        if mel_weight > 0:
            loss_g = loss_g + mel_weight * F.l1_loss(_log_mel(fake, mel, transform), mel_in)
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
    (standard-normal values), fp32, eval mode, weight norm removed as the reference inference
    does, under ``torch.inference_mode``; the seconds of audio it makes: ``batch_size * frames
    * hop / sample_rate``, frames = ``round(seconds * sample_rate / hop)``, at least 1)."""
    device = torch.device(device)
    mel = config["mel"]
    hop, rate = mel["hop_length"], mel["sample_rate"]
    frames = max(1, round(seconds * rate / hop))
    gen = _remove_weight_norm(_networks(config)[0].eval()).to(device)
    x = torch.randn(batch_size, mel["n_mels"], frames, generator=torch.Generator().manual_seed(0)).to(device)

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return gen(x)

    return generate, batch_size * frames * hop / rate
