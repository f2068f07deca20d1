"""Writing audio a person can listen to and look at: a WAV file and a spectrogram PNG per sample."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from PIL import Image
from torch import Tensor

SPECTROGRAM_N_FFT = 512
SPECTROGRAM_HOP = 128
SPECTROGRAM_RANGE_DB = 80.0
#: Anchors of a viridis-like perceptual colormap (dark blue-violet to yellow), evenly spaced.
COLORMAP_ANCHORS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                            dtype=np.float64)


def _mono(wav: Tensor | np.ndarray) -> np.ndarray:
    """A waveform (1, T) or (T,) as a finite float32 array (T,)."""
    x = wav.detach().float().cpu().numpy() if isinstance(wav, Tensor) else np.asarray(wav, dtype=np.float32)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ValueError(f"expected a mono waveform of shape (1, T) or (T,), got {x.shape}")
    return np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)


def wav_bytes(wav: Tensor | np.ndarray, sample_rate: int) -> bytes:
    """A mono waveform (1, T) or (T,) as the bytes of a 16-bit PCM WAV, clipped to [-1, 1]."""
    out = io.BytesIO()
    sf.write(out, np.clip(_mono(wav), -1, 1), sample_rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


def save_wav(wav: Tensor | np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Write a mono waveform (1, T) or (T,) as 16-bit PCM WAV, clipped to [-1, 1]."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(wav, sample_rate))
    return path


def colorize(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB through :data:`COLORMAP_ANCHORS` (linear between them)."""
    position = np.clip(values, 0, 1) * (len(COLORMAP_ANCHORS) - 1)
    anchors = np.linspace(0, len(COLORMAP_ANCHORS) - 1, len(COLORMAP_ANCHORS))
    rgb = np.stack([np.interp(position, anchors, COLORMAP_ANCHORS[:, c]) for c in range(3)], axis=-1)
    return rgb.round().astype(np.uint8)


def spectrogram_image(wav: Tensor | np.ndarray, sample_rate: int) -> np.ndarray:
    """A log-magnitude spectrogram as uint8 RGB (H, W, 3): n_fft 512, hop 128, decibels
    relative to the loudest bin over an 80 dB range, low frequencies at the bottom.

    ``sample_rate`` does not change the picture (the axis always spans 0 to Nyquist); it is
    taken so that callers need not know that.
    """
    del sample_rate
    x = torch.from_numpy(_mono(wav)).double()
    if x.numel() < SPECTROGRAM_N_FFT:
        x = torch.nn.functional.pad(x, (0, SPECTROGRAM_N_FFT - x.numel()))
    spec = torch.stft(x, SPECTROGRAM_N_FFT, SPECTROGRAM_HOP, window=torch.hann_window(SPECTROGRAM_N_FFT, dtype=x.dtype),
                      return_complex=True).abs()
    tiny = 1e-10
    db = 20 * torch.log10(spec.clamp(min=tiny) / spec.max().clamp(min=tiny))
    db[spec <= tiny] = -SPECTROGRAM_RANGE_DB   # silence is dark, even when everything is silent
    level = (db.clamp(-SPECTROGRAM_RANGE_DB, 0) / SPECTROGRAM_RANGE_DB + 1).numpy()
    return colorize(level[::-1])


def save_spectrogram_png(wav: Tensor | np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Save :func:`spectrogram_image` of a mono waveform as a PNG at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(spectrogram_image(wav, sample_rate))).save(path)
    return path


def write_audio_samples(samples: Tensor, stem: Path, gan) -> list[Path]:
    """The audio modality's sample writer: for samples (N, 1, T), ``<stem>.wav`` and
    ``<stem>.png`` when N is 1, else ``<stem>-000.wav``, ``<stem>-000.png``, ... per sample,
    at ``gan.sample_rate``."""
    stem = Path(stem)
    if stem.suffix.lower() in (".wav", ".png"):
        stem = stem.with_suffix("")
    samples = samples.detach().float().cpu()
    written = []
    for i, wav in enumerate(samples):
        name = stem.name if len(samples) == 1 else f"{stem.name}-{i:03d}"
        written.append(save_wav(wav, stem.with_name(name + ".wav"), gan.sample_rate))
        written.append(save_spectrogram_png(wav, stem.with_name(name + ".png"), gan.sample_rate))
    return written


def encode_audio_example(wav: Tensor, gan) -> bytes:
    """One waveform (1, T) as the bytes of a WAV at ``gan.sample_rate``."""
    return wav_bytes(wav, gan.sample_rate)


def write_audio_example(wav: Tensor, stem: Path, gan) -> Path:
    """One waveform (1, T) as ``<stem>.wav`` at ``gan.sample_rate``: an example of a dataset folder."""
    return save_wav(wav.detach().float().cpu(), Path(stem).with_suffix(".wav"), gan.sample_rate)
