"""Speech metrics of vocoded audio against the real clips it was made from: PESQ, STOI, F0 RMSE
and voiced/unvoiced F1 (docs/evaluation.md, "Speech metrics").

:class:`SpeechMetrics` analyses the real clips once and then scores any number of vocoded
versions of them (the model and each reference point) clip by clip, pairing clip ``i`` with
real clip ``i``:

- ``pesq``: wideband PESQ (ITU-T P.862.2, the ``pesq`` package) at 16 kHz, both signals
  resampled there; MOS-LQO from about 1.04 (unintelligible) to 4.64 (identical);
- ``stoi``: STOI (Taal et al. 2011, the ``pystoi`` package; it resamples to 10 kHz itself);
  0 to 1, 1 for identical clips;
- ``f0_rmse``: the RMS difference, in cents, of ``librosa.pyin``'s F0 tracks of the vocoded and
  the real clips, over the frames that pYIN hears as voiced in both (``f0_frames`` of them);
- ``vuv_f1``: the F1 score of the vocoded clips' voiced/unvoiced decisions against the real
  clips' (voiced is the positive class).

A metric that cannot be computed is ``None``, never a made-up number, and ``<metric>_reason``
says why: its package is missing (a one-line message naming the extra to install), the clips
are too short for it, none of the real clips can be scored, or some vocoded clip cannot be.
Real clips that PESQ or STOI cannot score even against themselves (silence, PESQ hearing no
utterance, STOI finding too few frames above its silence threshold) are left out of that
metric for every row alike; ``pesq_clips`` and ``stoi_clips`` count the clips averaged.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
import torchaudio
from torch import Tensor

EXTRA = "speech-metrics"    # the optional dependencies that hold pesq, pystoi and librosa
KEYS = ("pesq", "stoi", "f0_rmse", "vuv_f1")

PESQ_RATE = 16000           # wideband PESQ is defined at 16 kHz
PESQ_MIN_SECONDS = 0.25     # the ITU-T code refuses shorter buffers ("at least 1/4 of a second")
# STOI (pystoi's constants): 256-sample frames at 10 kHz, hop 128, and at least 30 frames (384 ms)
# within 40 dB of the clip's loudest; pystoi's framing needs 30 x 128 + 256 + 1 samples at 10 kHz
# for 30 frames: a clip of more than 0.4096 s (9,032 samples at 22,050 Hz), all of it sounding.
STOI_RATE, STOI_FRAME, STOI_HOP, STOI_SEGMENT = 10000, 256, 128, 30
STOI_MIN_SAMPLES = STOI_SEGMENT * STOI_HOP + STOI_FRAME + 1     # at STOI_RATE
# pYIN's search range: C2 to C6. Speech F0 runs from about 70 Hz (low male voices) to 400 Hz
# (children); the built-in notes are C4 to C5 (262 to 523 Hz), at least an octave inside each
# end, so an octave error either way can still be heard as one. A wider range costs pYIN's Viterbi
# decoding, which grows with the square of the number of pitch bins (10 cents apart).
F0_FMIN = 65.406            # C2, librosa's recommended minimum
F0_FMAX = 1046.502          # C6
# pYIN is the slow part (1.5 to 2 ms per 256-sample frame, per clip and per row, on one busy
# core: its Viterbi decoding over 960 states), so the F0 metrics take the first F0_CLIPS clips
# only; PESQ and STOI (about 5 ms a clip each) take every clip.
F0_CLIPS = 32


def f0_frame_length(sample_rate: int) -> int:
    """pYIN's frame at ``sample_rate``: the shortest power of two holding two periods of
    :data:`F0_FMIN` (pYIN's recommendation): 1,024 samples (46 ms) at 22,050 Hz, 512 (32 ms) at
    16 kHz, 2,048 at 44.1 kHz. The hop is a quarter of it (256 at 22,050 Hz: the mel hop)."""
    return 2 ** math.ceil(math.log2(2 * sample_rate / F0_FMIN + 1))


def missing(package: str) -> str:
    """The one-line reason a metric is absent when its package is not installed."""
    return f"needs the {package} package: pip install \"multigan[{EXTRA}]\""


def _clips(wav: Tensor) -> np.ndarray:
    """Waveforms (N, 1, T) or (N, T) -> float64 array (N, T) on the CPU."""
    return wav.detach().reshape(len(wav), -1).double().cpu().numpy()


def _mean_or_reason(name: str, values: list[float], failures: list[str]) -> dict[str, Any]:
    """A metric's entry from its per-clip values: the mean, or None and the reason when some
    vocoded clip could not be scored (leaving it out would flatter the row)."""
    if failures:
        return {name: None, f"{name}_reason": f"{len(failures)} of {len(values) + len(failures)} vocoded clips "
                                              f"could not be scored: {failures[0]}"}
    return {name: float(np.mean(values))}


class _Pesq:
    """Wideband PESQ at 16 kHz against the real clips that PESQ can score against themselves."""

    def __init__(self, real: np.ndarray, rate: int):
        self.rate, self.reason, self.keep = rate, None, []
        try:
            from pesq import PesqError, pesq
        except ImportError:
            self.reason = missing("pesq")
            return
        self.pesq, self.error = pesq, PesqError
        length = real.shape[-1]
        if -(-length * PESQ_RATE // rate) < PESQ_RATE * PESQ_MIN_SECONDS:   # the length resampled to 16 kHz
            self.reason = f"the clips are {length / rate:.3f} s long; PESQ needs at least {PESQ_MIN_SECONDS} s"
            return
        self.real = self._resampled(real)
        self.keep = [i for i, x in enumerate(self.real) if isinstance(self._score(x, x), float)]
        if not self.keep:
            self.reason = ("PESQ can score none of the real clips against themselves (each is digital silence "
                           "or PESQ detects no utterance in it)")

    def _resampled(self, clips: np.ndarray) -> np.ndarray:
        if self.rate == PESQ_RATE:
            return clips
        return torchaudio.functional.resample(torch.from_numpy(clips), self.rate, PESQ_RATE).numpy()

    def _score(self, ref: np.ndarray, deg: np.ndarray) -> float | str:
        """PESQ of one pair, or why it cannot be computed."""
        if not np.abs(ref).max() > 0:
            return "the real clip is digital silence"
        if not np.abs(deg).max() > 0:   # PESQ's level alignment would divide by its power
            return "the vocoded clip is digital silence"
        try:
            return float(self.pesq(PESQ_RATE, ref, deg, "wb"))
        except (self.error, ValueError) as e:   # ValueError: a NaN inside PESQ (a near-silent clip)
            message = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
            return f"PESQ: {message}"

    def __call__(self, fake: np.ndarray) -> dict[str, Any]:
        if self.reason is not None:
            return {"pesq": None, "pesq_reason": self.reason, "pesq_clips": 0}
        fake = self._resampled(fake)
        scores = [self._score(self.real[i], fake[i]) for i in self.keep]
        values = [s for s in scores if isinstance(s, float)]
        failures = [s for s in scores if isinstance(s, str)]
        return {**_mean_or_reason("pesq", values, failures), "pesq_clips": len(self.keep)}


class _Stoi:
    """STOI against the real clips that have enough frames above STOI's silence threshold."""

    def __init__(self, real: np.ndarray, rate: int):
        self.rate, self.reason, self.keep, self.real = rate, None, [], real
        try:
            from pystoi import stoi
        except ImportError:
            self.reason = missing("pystoi")
            return
        self.stoi = stoi
        length = real.shape[-1]
        if -(-length * STOI_RATE // rate) < STOI_MIN_SAMPLES:   # the length pystoi resamples to
            self.reason = (f"the clips are {length / rate:.3f} s long; STOI needs more than "
                           f"{(STOI_MIN_SAMPLES - 1) / STOI_RATE} s ({STOI_SEGMENT} frames of {STOI_FRAME} samples "
                           f"at {STOI_RATE} Hz, hop {STOI_HOP})")
            return
        self.keep = [i for i, x in enumerate(real) if np.abs(x).max() > 0 and self._score(x, x) is not None]
        if not self.keep:
            self.reason = (f"STOI can score none of the real clips (each is digital silence or has fewer than "
                           f"{STOI_SEGMENT} frames within 40 dB of its loudest)")

    def _score(self, clean: np.ndarray, other: np.ndarray) -> float | None:
        """STOI of one pair, or None where pystoi finds too few frames (it would return 1e-5).
        Which frames count is decided by the clean clip alone, so a real clip kept here is
        scored against any vocoded one."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = float(self.stoi(clean, other, self.rate))
        return None if any("enough STFT frames" in str(w.message) for w in caught) else value

    def __call__(self, fake: np.ndarray) -> dict[str, Any]:
        if self.reason is not None:
            return {"stoi": None, "stoi_reason": self.reason, "stoi_clips": 0}
        scores = [self._score(self.real[i], fake[i]) for i in self.keep]
        values = [s for s in scores if s is not None]
        failures = ["too few frames above the silence threshold"] * (len(scores) - len(values))
        return {**_mean_or_reason("stoi", values, failures), "stoi_clips": len(self.keep)}


class _F0:
    """pYIN's F0 track and voicing of the first :data:`F0_CLIPS` clips, compared frame by frame."""

    def __init__(self, real: np.ndarray, rate: int, clips: int):
        self.rate, self.clips, self.reason = rate, clips, None
        self.frame = f0_frame_length(rate)
        self.fmax = min(F0_FMAX, 0.45 * rate)
        try:
            import librosa
        except ImportError:
            self.reason = missing("librosa")
            return
        self.librosa = librosa
        if real.shape[-1] < self.frame:
            self.reason = f"the clips ({real.shape[-1]} samples) are shorter than pYIN's frame ({self.frame})"
            return
        self.f0, self.voiced = self._track(real)

    def _track(self, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f0, voiced, _ = self.librosa.pyin(clips[:self.clips].astype(np.float32), fmin=F0_FMIN, fmax=self.fmax,
                                          sr=self.rate, frame_length=self.frame, hop_length=self.frame // 4)
        return f0, voiced

    def __call__(self, fake: np.ndarray) -> dict[str, Any]:
        if self.reason is not None:
            return {"f0_rmse": None, "f0_rmse_reason": self.reason, "f0_frames": 0,
                    "vuv_f1": None, "vuv_f1_reason": self.reason}
        f0, voiced = self._track(fake)
        both = voiced & self.voiced
        result: dict[str, Any] = {}
        if both.any():
            cents = 1200 * np.log2(f0[both] / self.f0[both])
            result["f0_rmse"] = float(np.sqrt(np.mean(cents ** 2)))
        else:
            result.update(f0_rmse=None, f0_rmse_reason="no frame is voiced in both the real and the vocoded clips")
        result["f0_frames"] = int(both.sum())
        tp, fp, fn = int(both.sum()), int((voiced & ~self.voiced).sum()), int((~voiced & self.voiced).sum())
        if 2 * tp + fp + fn:
            result["vuv_f1"] = 2 * tp / (2 * tp + fp + fn)
        else:
            result.update(vuv_f1=None, vuv_f1_reason="no frame is voiced in the real or the vocoded clips")
        return result


class SpeechMetrics:
    """``pesq``, ``stoi``, ``f0_rmse`` and ``vuv_f1`` of vocoded clips against ``real`` clips
    (N, 1, T) at ``sample_rate``: the real side is analysed once, here; calling the object
    with vocoded clips of the same shape (clip ``i`` made from real clip ``i``'s mel) scores
    them. Each metric is None with a ``<metric>_reason`` where it cannot be computed (see the
    module's docstring); ``pesq_clips``, ``stoi_clips`` and ``f0_frames`` say what each mean
    was taken over. The F0 metrics see the first ``f0_clips`` clips only (pYIN is slow)."""

    def __init__(self, real: Tensor, sample_rate: int, f0_clips: int = F0_CLIPS):
        clips = _clips(real)
        self.shape = clips.shape
        self.parts = (_Pesq(clips, sample_rate), _Stoi(clips, sample_rate), _F0(clips, sample_rate, f0_clips))

    def __call__(self, fake: Tensor) -> dict[str, Any]:
        clips = _clips(fake)
        if clips.shape != self.shape:
            raise ValueError(f"vocoded clips {clips.shape} do not match the real clips {self.shape}")
        if not np.isfinite(clips).all():
            reason = "the vocoded clips hold non-finite samples"
            return {**{k: None for k in KEYS}, **{f"{k}_reason": reason for k in KEYS},
                    "pesq_clips": 0, "stoi_clips": 0, "f0_frames": 0}
        result: dict[str, Any] = {}
        for part in self.parts:
            result.update(part(clips))
        return _ordered(result)


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics first (in :data:`KEYS` order), then the counts, then any reasons."""
    order = [*KEYS, "pesq_clips", "stoi_clips", "f0_frames", *(f"{k}_reason" for k in KEYS)]
    return {k: result[k] for k in order if k in result}
