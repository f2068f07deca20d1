"""Audio data: the built-in ``notes``, folders of audio files, and (mel, waveform) pairs.

Every waveform dataset yields float32 tensors (1, segment_length) in [-1, 1] at the model's
sample rate.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor
from torch.utils.data import Dataset

from ...errors import ConfigError, DataError, warn
from ...labels import check_labels, folder_labels
from ...modality import check_float_batch
from .features import MelConfig, MelSpectrogram

#: The pitches of ``notes`` as MIDI note numbers: the C major scale from middle C (C4) to C5.
PITCHES = (60, 62, 64, 65, 67, 69, 71, 72)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
NOTES_SIZES = {"train": 4096, "test": 512}
_SPLIT_IDS = {"train": 0, "test": 1}
NOTE_PEAK = 0.9
NOISE_FLOOR = 10 ** (-60 / 20)  # RMS of the notes' white noise floor: -60 dBFS, like a quiet recording
NORMALIZATIONS = ("peak", "loudness", "none")
PEAK = 0.95                      # the "peak" normalisation's largest |sample|
LOUDNESS_RMS = 10 ** (-20 / 20)  # the "loudness" normalisation's RMS: -20 dBFS
SILENCE = 1e-6                   # a file whose largest |sample| is below this is silent


_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def midi_to_hz(note: float) -> float:
    """Frequency of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69) / 12)


def note_name(midi: int) -> str:
    """A MIDI note number's name in scientific pitch notation, sharps for the black keys:
    60 is ``"C4"`` (middle C), 61 ``"C#4"``, 69 ``"A4"``."""
    return f"{_PITCH_CLASSES[midi % 12]}{midi // 12 - 1}"


#: The classes of ``notes``, in label order: ``("C4", "D4", ..., "B4", "C5")``.
PITCH_NAMES = tuple(note_name(p) for p in PITCHES)


def _synthesise_note(rng: np.random.Generator, sample_rate: int, length: int) -> tuple[int, np.ndarray]:
    """Draw a note from ``rng`` and render its first ``length`` samples (at most one second).

    The label is the generator's first draw, so labels can be known without rendering.
    Returns (label, float64 waveform) with the peak at ``NOTE_PEAK``.
    """
    label = int(rng.integers(len(PITCHES)))
    detune_cents = rng.uniform(-10, 10)
    f0 = midi_to_hz(PITCHES[label]) * 2.0 ** (detune_cents / 1200)
    vibrato_rate, vibrato_depth, vibrato_phase = rng.uniform(4, 7), rng.uniform(0, 0.004), rng.uniform(0, 2 * np.pi)
    n_harmonics = int(rng.integers(1, 9))
    rolloff = rng.uniform(0.5, 2.0)
    k = np.arange(1, n_harmonics + 1)
    amplitudes = k ** -rolloff * rng.uniform(0.5, 1.0, n_harmonics)
    phases = rng.uniform(0, 2 * np.pi, n_harmonics)
    attack, decay = rng.uniform(0.005, 0.08), rng.uniform(0.05, 0.3)
    sustain, release = rng.uniform(0.3, 0.9), rng.uniform(0.05, 0.4)

    t = np.arange(min(length, sample_rate)) / sample_rate
    # instantaneous frequency f0 (1 + depth sin(2 pi r t + p)), integrated in closed form
    theta = (2 * np.pi * f0 * t
             - f0 * vibrato_depth / vibrato_rate * np.cos(2 * np.pi * vibrato_rate * t + vibrato_phase))
    # sin(k theta) and cos(k theta) by repeated rotation: one sin and one cos per note instead of
    # one per harmonic; harmonics at or above Nyquist are left out (no aliasing)
    s1, c1 = np.sin(theta), np.cos(theta)
    s, c = s1, c1
    wave = np.zeros_like(t)
    for a, p, harmonic in zip(amplitudes, phases, k):
        if harmonic * f0 * (1 + vibrato_depth) >= sample_rate / 2:
            break
        wave += a * (s * np.cos(p) + c * np.sin(p))
        s, c = s * c1 + c * s1, c * c1 - s * s1
    envelope = np.interp(t, [0, attack, attack + decay, 1 - release, 1], [0, 1, sustain, sustain, 0])
    wave *= envelope
    return label, wave * (NOTE_PEAK / max(np.abs(wave).max(), 1e-12))


class Notes(Dataset):
    """The built-in ``notes``: one-second notes synthesised on the fly (see :func:`notes`).

    Item ``i`` depends only on ``(seed, split, i)``, through its own NumPy generator, so it is
    the same in every call, process and DataLoader worker.
    """

    def __init__(self, split: str = "train", sample_rate: int = 16000, segment_length: int = 16384,
                 size: int | None = None, seed: int = 0):
        if split not in _SPLIT_IDS:
            raise ConfigError(f"notes split {split!r}: allowed 'train' or 'test'")
        self.split, self.sample_rate, self.segment_length, self.seed = split, sample_rate, segment_length, seed
        self.size = NOTES_SIZES[split] if size is None else size
        self.source, self.label_names = f"notes ({split})", PITCH_NAMES
        self.labels = torch.tensor([int(self._rng(i).integers(len(PITCHES))) for i in range(self.size)],
                                   dtype=torch.long)

    def _rng(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _SPLIT_IDS[self.split], i])

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> Tensor:
        if not 0 <= i < self.size:
            raise IndexError(f"notes index {i} out of range for {self.size} items")
        rng = self._rng(i)
        _, wave = _synthesise_note(rng, self.sample_rate, self.segment_length)
        # a faint noise floor under the whole segment: real recordings have one, and without it
        # the bins between harmonics would be exactly silent, which no vocoder reproduces
        out = rng.standard_normal(self.segment_length) * NOISE_FLOOR
        out[:len(wave)] += wave
        return torch.from_numpy(out.astype(np.float32)).unsqueeze(0)


def notes(split: str = "train", sample_rate: int = 16000, segment_length: int = 16384,
          size: int | None = None, seed: int = 0) -> Notes:
    """The built-in ``notes`` dataset: 4,096 train / 512 test (by default) one-second notes.

    Each note has a pitch drawn uniformly from :data:`PITCHES` (its index is the label, in
    ``.labels``; its name, ``"A4"``, in ``.label_names``), a random harmonic timbre (1 to 8
    harmonics with decaying amplitudes), an ADSR envelope, light vibrato (4-7 Hz, under 0.4%
    deep) and a small detune (within 10 cents); it starts at sample 0, peaks at 0.9, and is
    padded with silence or cropped to ``segment_length``.
    White noise at -60 dBFS (RMS) lies under the whole segment, as under any recording.
    The two splits draw from different streams, so the test split is held out at any ``size``.
    """
    return Notes(split, sample_rate, segment_length, size, seed)


def _fit_length(wav: Tensor, segment_length: int) -> Tensor:
    """Random crop (global torch RNG, so a resumed run reproduces it) or zero-pad at the end."""
    extra = wav.shape[-1] - segment_length
    if extra > 0:
        start = int(torch.randint(extra + 1, ()))
        return wav[..., start:start + segment_length]
    return F.pad(wav, (0, -extra))


def read_audio(path: str | Path, sample_rate: int, normalize: str = "peak") -> Tensor:
    """A whole audio file as float32 (1, frames): mixed down to mono, resampled to
    ``sample_rate`` when its rate differs, then normalised (see :class:`AudioFolder`).

    Raises :class:`DataError` naming the file when it is missing, truncated (a WAV whose data
    is shorter than its header declares), cannot be decoded, has no samples, contains NaN or
    infinite samples, or is silent.
    """
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"normalize {normalize!r}: allowed {', '.join(map(repr, NORMALIZATIONS))}")
    if not Path(path).is_file():
        raise DataError(f"audio file {str(path)!r} does not exist")
    truncated = _truncation(path)
    if truncated is not None:
        raise DataError(f"audio file {str(path)!r} {truncated}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DataError(f"audio file {str(path)!r} cannot be decoded: {exc}") from exc
    if data.shape[0] == 0:
        raise DataError(f"audio file {str(path)!r} has no samples")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise DataError(f"audio file {str(path)!r} contains NaN or infinite samples")
    wav = torch.from_numpy(mono).unsqueeze(0)
    if rate != sample_rate:
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    # checked after resampling: a file with only content above the new Nyquist is silent too
    if wav.abs().max() < SILENCE:
        raise DataError(f"audio file {str(path)!r} is silent at {sample_rate} Hz (every |sample| < {SILENCE:g})")
    if normalize == "peak":
        wav = wav * (PEAK / wav.abs().max())
    elif normalize == "loudness":
        wav = (wav * (LOUDNESS_RMS / wav.pow(2).mean().sqrt())).clamp(-1, 1)
    return wav.float()


def _truncation(path: str | Path) -> str | None:
    """How a RIFF/WAVE file falls short of the samples its header declares, or None.

    libsndfile reads a truncated WAV without complaint (it shortens the frame count to what is
    there), so a download or copy cut short would otherwise train silently on a fragment. Only
    the chunk headers are read. A data size of 0 or 0xFFFFFFFF (written by streaming encoders
    that did not know the length) is not a declaration, and other formats are left to
    libsndfile's own checks.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align, pos = 0, 12
            while pos + 8 <= size:
                f.seek(pos)
                chunk = f.read(8)
                kind, declared = chunk[:4], int.from_bytes(chunk[4:8], "little")
                if kind == b"fmt ":
                    fmt = f.read(min(declared, 16))
                    block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else 0
                elif kind == b"data":
                    present = size - pos - 8
                    if declared in (0, 0xFFFFFFFF) or present >= declared:
                        return None
                    if block_align > 0:
                        return (f"is truncated: its header declares {declared // block_align} frames "
                                f"({declared} bytes) of samples but the file holds {present // block_align} "
                                f"({present} bytes)")
                    return (f"is truncated: its header declares {declared} bytes of samples but the file "
                            f"holds {present}")
                pos += 8 + declared + (declared & 1)
    except OSError:
        return None  # unreadable: the decoder says why
    return None


def _header_problem(path: Path) -> str | None:
    """What is wrong with an audio file's header (unreadable, truncated, no samples), or None."""
    try:
        frames = sf.info(str(path)).frames
    except Exception as exc:
        return f"cannot be read ({exc})"
    truncated = _truncation(path)
    if truncated is not None:
        return truncated
    return "has no samples" if frames <= 0 else None


def audio_files(root: Path) -> list[Path]:
    """Every file under ``root`` (recursively) with an audio extension, sorted by path."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


class AudioFolder(Dataset):
    """Every .wav, .flac and .ogg file under ``root`` (recursively, sorted), as mono waveforms
    at ``sample_rate``, randomly cropped or zero-padded to ``segment_length``.

    Files are mixed down to mono, resampled (torchaudio) when their rate differs, then
    normalised over the whole file: ``"peak"`` scales the largest |sample| to 0.95,
    ``"loudness"`` scales the RMS to -20 dBFS and clips to [-1, 1], ``"none"`` leaves them.
    Each file's header is checked when the dataset is made; an unreadable, truncated (a WAV whose
    data is shorter than its header declares) or empty file, or one that decodes to NaN/inf or
    silence when read, raises :class:`DataError` naming it, or is
    skipped with a warning when ``skip_bad_files=True`` (a file found bad when read is replaced
    by the next good one of its class).

    Class labels (:attr:`labels`, :attr:`label_names`) come from a ``labels.csv`` in ``root``
    (header ``file,label``, one row per file), else from one subfolder per class, the classes
    sorted by name (:func:`multigan.labels.folder_labels`); otherwise both are None. SC09
    (``sc09/train/<word>/*.wav``: its words are the classes) and LJSpeech
    (``LJSpeech-1.1/wavs/*.wav``: unlabelled) work by pointing at their folders.
    """

    def __init__(self, root: str | Path, sample_rate: int, segment_length: int, normalize: str = "peak",
                 skip_bad_files: bool = False):
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize {normalize!r}: allowed {', '.join(map(repr, NORMALIZATIONS))}")
        self.root, self.sample_rate, self.segment_length = Path(root), sample_rate, segment_length
        self.normalize, self.skip_bad_files, self.source = normalize, skip_bad_files, str(root)
        if not self.root.is_dir():
            raise DataError(f"audio data {str(root)!r} is not a folder of audio files")
        candidates = audio_files(self.root)
        if not candidates:
            raise DataError(f"audio folder {str(root)!r} has no audio files ({', '.join(AUDIO_EXTENSIONS)})")
        self.files: list[Path] = []
        for path in candidates:
            problem = _header_problem(path)
            if problem is None:
                self.files.append(path)
            elif not skip_bad_files:
                raise DataError(f"audio file {str(path)!r} {problem}; fix or remove it, or pass "
                                "skip_bad_files=True to skip such files")
            else:
                warn(f"skipping audio file {str(path)!r}: it {problem}")
        if not self.files:
            raise DataError(f"audio folder {str(root)!r} has no readable audio files")
        # from the files kept, so that skipped ones leave no class and no gap behind
        labelled = folder_labels(self.root, self.files)
        self.label_names, self.labels = labelled if labelled is not None else (None, None)
        self._bad: set[int] = set()   # files found bad while reading (skip_bad_files): warned once

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        for k in range(len(self.files)):
            j = (i + k) % len(self.files)
            # a stand-in for a bad file is of its class, so the label paired with item i stays true
            if j in self._bad or (self.labels is not None and self.labels[j] != self.labels[i]):
                continue
            try:
                return _fit_length(read_audio(self.files[j], self.sample_rate, self.normalize),
                                   self.segment_length)
            except DataError as exc:
                if not self.skip_bad_files:
                    raise
                self._bad.add(j)
                warn(f"skipping: {exc}")
        of = "" if self.labels is None else f" of class {self.label_names[int(self.labels[i])]!r}"
        raise DataError(f"audio folder {self.source!r} has no file{of} that can be decoded")


class MelPairs(Dataset):
    """``(mel, wav)`` pairs for vocoders: ``wav`` (1, T) from ``dataset`` and its log-mel
    (n_mels, T // hop_length) under ``config``; ``labels`` and ``label_names`` are the
    dataset's, when it has labels."""

    def __init__(self, dataset: Dataset, config: MelConfig):
        self.dataset, self.config = dataset, config
        self.mel = MelSpectrogram(config)
        self.source = getattr(dataset, "source", type(dataset).__name__)
        if getattr(dataset, "labels", None) is not None:
            self.labels, self.label_names = dataset.labels, getattr(dataset, "label_names", None)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        wav = self.dataset[i]
        with torch.no_grad():
            mel = self.mel(wav[None])[0]
        return mel, wav


def check_waveforms(batch, segment_length: int, family: str) -> Tensor:
    """Raise :class:`DataError` unless ``batch`` is a float tensor (N, 1, segment_length)."""
    return check_float_batch(batch, (1, segment_length), family, "audio",
                             "build it with segment_length matching the data (mono waveforms)")


def check_audio_batch(batch, gan) -> None:
    """Raise :class:`DataError` unless ``batch`` is what an :class:`AudioGAN` trains on: waveforms,
    ``(mel, waveform)`` pairs for a vocoder, or ``(waveform, label)`` pairs (see its ``condition``)."""
    family = gan.name or type(gan).__name__
    if gan.condition == "none":
        check_waveforms(batch, gan.segment_length, family)
        return
    what = "(mel, waveform)" if gan.condition == "mel" else "(waveform, label)"
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise DataError(f"{family} is conditioned on a {gan.condition} and expects {what} pairs, "
                        f"got {type(batch).__name__}")
    if gan.condition == "mel":
        mel, wav = batch
        check_waveforms(wav, gan.segment_length, family)
        n_mels = gan.mel_config.n_mels
        if not isinstance(mel, Tensor) or mel.dim() != 3 or mel.shape[1] != n_mels:
            got = tuple(mel.shape) if isinstance(mel, Tensor) else type(mel).__name__
            raise DataError(f"{family} expects mels of shape (N, {n_mels}, frames), got {got}")
    else:
        wav, labels = batch
        check_waveforms(wav, gan.segment_length, family)
        check_labels(labels, gan.num_classes, family)
