"""Audio features shared by the families and the metrics: the log-mel front end and the
multi-resolution STFT distance.

The front end is torchaudio's MelSpectrogram (magnitude, Slaney mel scale and norm, as
librosa's default filterbank), with reflect padding of ``(n_fft - hop) / 2`` on each side and
no centring, so a segment of ``T`` samples gives exactly ``T / hop`` frames. It always runs in
float32 (autocast is switched off inside), so CPU and GPU, fp32 and mixed-precision runs
compute the same features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from ...config import option
from ...errors import ConfigError


@dataclass(frozen=True)
class MelConfig:
    """Everything that defines a mel spectrogram. Saved with every model that reads mels, so a
    trained vocoder is never fed mels of another format. Defaults: MelGAN's (22,050 Hz)."""

    sample_rate: int = option(22050, "audio sample rate in Hz", low=1)
    n_fft: int = option(1024, "FFT size", low=2)
    hop_length: int = option(256, "samples between frames", low=1)
    win_length: int = option(1024, "Hann window length (<= n_fft)", low=1)
    n_mels: int = option(80, "mel bands", low=1)
    f_min: float = option(0.0, "lowest band edge in Hz", low=0)
    f_max: float = option(0.0, "highest band edge in Hz (0: sample_rate / 2)", low=0)
    log_base: str = option("10", "logarithm of the compressed magnitude", choices=("10", "e"))
    log_floor: float = option(1e-5, "magnitudes are clamped to this before the log", low=0, low_open=True)

    def validate(self) -> None:
        if self.win_length > self.n_fft:
            raise ConfigError(f"mel config: win_length {self.win_length} is longer than n_fft {self.n_fft}")
        top = self.f_max or self.sample_rate / 2
        if not self.f_min < top <= self.sample_rate / 2:
            raise ConfigError(f"mel config: need f_min < f_max <= sample_rate / 2, got f_min {self.f_min}, "
                              f"f_max {top}, sample_rate {self.sample_rate}")


class MelSpectrogram(nn.Module):
    """Waveforms (N, 1, T) or (N, T) in [-1, 1] -> log-mel (N, n_mels, T // hop)."""

    def __init__(self, config: MelConfig):
        super().__init__()
        self.config = config
        self.pad = (config.n_fft - config.hop_length) // 2
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
            hop_length=config.hop_length, f_min=config.f_min, f_max=config.f_max or None,
            n_mels=config.n_mels, window_fn=torch.hann_window, power=1.0, center=False,
            norm="slaney", mel_scale="slaney")

    def forward(self, wav: Tensor) -> Tensor:
        x = wav.reshape(-1, wav.shape[-1]).float()
        with torch.autocast(x.device.type, enabled=False):
            x = F.pad(x.unsqueeze(1), (self.pad, self.pad), mode="reflect").squeeze(1)
            mel = self.mel(x).clamp(min=self.config.log_floor)
            mel = mel.log10() if self.config.log_base == "10" else mel.log()
        return mel.reshape(*wav.shape[:-2], self.config.n_mels, -1) if wav.dim() == 3 else mel


def mel_l1(front: MelSpectrogram, fake: Tensor, mel: Tensor) -> Tensor:
    """HiFi-GAN's mel-spectrogram loss: the mean absolute difference between the log-mel of
    ``fake`` waveforms (N, 1, T) under ``front`` and the target log-mel ``mel`` (N, n_mels,
    T // hop), differentiable. Also the vocoder metric ``mel_l1``."""
    return (front(fake) - mel).abs().mean()


#: Parallel WaveGAN's three STFT resolutions: (n_fft, hop, window).
STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def _magnitude(x: Tensor, n_fft: int, hop: int, win: int) -> Tensor:
    window = torch.hann_window(win, device=x.device)
    spec = torch.stft(x, n_fft, hop, win, window, return_complex=True)
    return spec.abs().clamp(min=1e-7)


def multi_resolution_stft_distance(fake: Tensor, real: Tensor,
                                   resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS) -> Tensor:
    """Parallel WaveGAN's multi-resolution STFT loss (Yamamoto et al. 2020), differentiable:
    the mean over resolutions of spectral convergence ``|S_r - S_f|_F / |S_r|_F`` plus the L1
    distance of log magnitudes. Inputs (N, 1, T) or (N, T); computed in float32."""
    x, y = fake.reshape(-1, fake.shape[-1]).float(), real.reshape(-1, real.shape[-1]).float()
    total = x.new_zeros(())
    with torch.autocast(x.device.type, enabled=False):
        for n_fft, hop, win in resolutions:
            sx, sy = _magnitude(x, n_fft, hop, win), _magnitude(y, n_fft, hop, win)
            convergence = torch.linalg.norm(sy - sx, dim=(-2, -1)) / torch.linalg.norm(sy, dim=(-2, -1))
            total = total + convergence.mean() + (sy.log() - sx.log()).abs().mean()
    return total / len(resolutions)
