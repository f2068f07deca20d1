"""The built-in ``speech`` dataset: real speech that needs no download.

Every sentence of ``speech_sentences.txt`` (400, shipped with multigan) is spoken
:data:`RENDITIONS` times by espeak-ng, each time with a voice, a speaking rate and a pitch drawn
for that sentence from a seeded generator. The sentences, not the utterances, are split into
train and test, so no sentence is heard in both. The corpus is synthesised once per sample rate
and kept in multigan's cache folder (:func:`multigan.cache.cache_dir`), under a key made of
everything that changes the audio: espeak-ng's version, the sample rate, the sentences, each
utterance's voice, rate and pitch, and the split.

espeak-ng is the Debian/Ubuntu package of that name (``apt-get install espeak-ng``); it is run
as a program, one utterance per call, writing a WAV to its standard output.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from torch import Tensor
from torch.utils.data import Dataset

from ...cache import cache_dir
from ...errors import ConfigError, DataError
from ...files import write_atomic
from .data import PEAK, SILENCE, _fit_length

#: The program that speaks; looked up on PATH.
ESPEAK = "espeak-ng"
INSTALL_HINT = "install the Debian/Ubuntu package espeak-ng: apt-get install espeak-ng"
SENTENCES_FILE = Path(__file__).with_name("speech_sentences.txt")
#: espeak-ng voices (language+variant), all in the espeak-ng-data package: American, British,
#: Scottish, received-pronunciation and Caribbean English, male and female variants.
VOICES = ("en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f4", "en-gb-scotland+m7", "en-gb-x-rp+f1",
          "en-029+m4", "en-us+f3")
RATES = (140, 190)       # words per minute, both ends included (espeak-ng's default is 175)
PITCHES = (35, 65)       # espeak-ng's pitch adjustment 0-99, both ends included (default 50)
RENDITIONS = 3           # utterances per sentence, each in another voice
TEST_FRACTION = 0.1      # of the sentences
TRIM_DB = 40             # leading and trailing audio quieter than this below the peak is cut ...
TRIM_MARGIN = 0.05       # ... keeping this many seconds of it on each side
FORMAT = 1               # the cache file's layout; raise it when the build changes
_SPLITS = ("train", "test")
#: a split as stored: ``audio`` (every utterance end to end, int16), ``offsets`` (n + 1) into
#: it, and each utterance's ``sentence``, ``voice`` (index into :data:`VOICES`), ``rate``, ``pitch``
Arrays = dict[str, np.ndarray]


def espeak_executable() -> str:
    """The path of espeak-ng, or a :class:`DataError` saying which package to install."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise DataError(f"the built-in speech dataset is synthesised by {ESPEAK}, which is not on PATH: "
                        f"{INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=None)
def espeak_version(executable: str) -> str:
    """``executable``'s version as it prints it (``1.51``)."""
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DataError(f"{executable} --version failed ({exc}); {INSTALL_HINT}") from exc
    # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/x86_64-linux-gnu/espeak-ng-data"
    words = out.stdout.split("Data at:")[0].split()
    return words[-1] if words else out.stdout.strip()


def sentences() -> list[str]:
    """The corpus's sentences, in file order."""
    lines = (line.strip() for line in SENTENCES_FILE.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def held_out_sentences(n: int, seed: int = 0) -> np.ndarray:
    """Which of ``n`` sentences are held out: a seeded choice of ``TEST_FRACTION`` of them (at
    least one), sorted."""
    count = max(1, round(n * TEST_FRACTION))
    return np.sort(np.random.default_rng([seed, n]).permutation(n)[:count])


def voice_settings(sentence: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """``(voice index, rate, pitch)`` of each rendition of sentence ``sentence``: distinct voices,
    drawn from a generator of ``(seed, sentence)`` alone."""
    rng = np.random.default_rng([seed, sentence])
    voices = rng.choice(len(VOICES), RENDITIONS, replace=False)
    rates = rng.integers(RATES[0], RATES[1] + 1, RENDITIONS)
    pitches = rng.integers(PITCHES[0], PITCHES[1] + 1, RENDITIONS)
    return [(int(v), int(r), int(p)) for v, r, p in zip(voices, rates, pitches)]


def _synthesise(executable: str, text: str, voice: str, rate: int, pitch: int, sample_rate: int) -> np.ndarray:
    """One utterance as int16 at ``sample_rate``: silence trimmed, resampled, peak at :data:`PEAK`."""
    command = [executable, "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text]
    try:
        result = subprocess.run(command, capture_output=True, check=True, timeout=120)
        data, rate_in = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    except subprocess.CalledProcessError as exc:
        raise DataError(f"{ESPEAK} failed on {text!r} with voice {voice}: "
                        f"{exc.stderr.decode(errors='replace').strip() or f'exit status {exc.returncode}'}") from exc
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        raise DataError(f"{ESPEAK} gave no readable WAV for {text!r} with voice {voice}: {exc}") from exc
    mono = data.mean(axis=1)
    loud = np.flatnonzero(np.abs(mono) > np.abs(mono).max(initial=0) * 10 ** (-TRIM_DB / 20))
    if loud.size == 0:
        raise DataError(f"{ESPEAK} spoke {text!r} with voice {voice} as silence")
    margin = int(TRIM_MARGIN * rate_in)
    wav = torch.from_numpy(mono[max(0, loud[0] - margin):loud[-1] + 1 + margin].copy())[None]
    if rate_in != sample_rate:
        wav = _resampler(rate_in, sample_rate)(wav)
    peak = float(wav.abs().max())
    if peak < SILENCE:
        raise DataError(f"{ESPEAK} spoke {text!r} with voice {voice} as silence at {sample_rate} Hz")
    return np.round(wav[0].numpy() * (PEAK / peak) * 32767).astype(np.int16)


@functools.lru_cache(maxsize=None)
def _resampler(rate_in: int, rate_out: int) -> torchaudio.transforms.Resample:
    """torchaudio's resampling with its defaults, as the folder loader's, the filter computed
    once for the whole corpus (it matches ``torchaudio.functional.resample`` to about 1e-5)."""
    return torchaudio.transforms.Resample(rate_in, rate_out)


Job = tuple[int, int, int, int]   # an utterance: (sentence, voice index, rate, pitch)


def _plan(n_sentences: int, seed: int) -> tuple[list[Job], set[int]]:
    """Every utterance to synthesise, and the held-out sentences."""
    jobs = [(s, *setting) for s in range(n_sentences) for setting in voice_settings(s, seed)]
    return jobs, set(held_out_sentences(n_sentences, seed).tolist())


def _cache_key(version: str, sample_rate: int, texts: list[str], jobs: list[Job], held_out: set[int]) -> str:
    """A digest of everything that changes the corpus's audio or its split: the settings drawn,
    not only the seed, so that a generator that draws otherwise cannot reuse a stale corpus."""
    recipe = {"format": FORMAT, "espeak_ng": version, "sample_rate": sample_rate, "texts": texts,
              "voices": VOICES, "jobs": jobs, "test": sorted(held_out), "trim_db": TRIM_DB,
              "trim_margin": TRIM_MARGIN, "peak": PEAK}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _build(executable: str, texts: list[str], jobs: list[Job], held_out: set[int],
           sample_rate: int) -> dict[str, Arrays]:
    """Synthesise every utterance, in threads (espeak-ng runs in its own processes), and
    gather them by split (:data:`Arrays`)."""
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        audio = list(pool.map(lambda job: _synthesise(executable, texts[job[0]], VOICES[job[1]], job[2], job[3],
                                                      sample_rate), jobs))
    splits = {}
    for split in _SPLITS:
        chosen = [i for i, job in enumerate(jobs) if (job[0] in held_out) == (split == "test")]
        lengths = [len(audio[i]) for i in chosen]
        splits[split] = {
            "audio": np.concatenate([audio[i] for i in chosen]),
            "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            **{name: np.array([jobs[i][k] for i in chosen], dtype=np.int32)
               for k, name in enumerate(("sentence", "voice", "rate", "pitch"))},
        }
    return splits


def _read(path: Path) -> Arrays | None:
    """A cached split, or None when it is missing or damaged (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in ("audio", "offsets", "sentence", "voice", "rate", "pitch")}
    except Exception:
        return None
    ok = arrays["offsets"].size == arrays["sentence"].size + 1 and arrays["offsets"][-1] == arrays["audio"].size
    return arrays if ok else None


def corpus(split: str, sample_rate: int, seed: int = 0,
           n_sentences: int | None = None) -> tuple[Arrays, list[str], Path]:
    """One split of the corpus at ``sample_rate`` (:data:`Arrays`), the sentences, and its
    cache file; both splits are synthesised and cached on first use."""
    if split not in _SPLITS:
        raise ConfigError(f"speech split {split!r}: allowed 'train' or 'test'")
    texts = sentences()
    if n_sentences is not None:
        if not 2 <= n_sentences <= len(texts):
            raise ConfigError(f"speech n_sentences {n_sentences}: allowed 2 to {len(texts)}")
        texts = texts[:n_sentences]
    executable = espeak_executable()
    jobs, held_out = _plan(len(texts), seed)
    key = _cache_key(espeak_version(executable), sample_rate, texts, jobs, held_out)
    paths = {s: cache_dir() / f"speech-{sample_rate}hz-{key}-{s}.npz" for s in _SPLITS}
    arrays = _read(paths[split])
    if arrays is None:
        start = time.perf_counter()
        print(f"multigan: synthesising the speech corpus ({len(jobs)} utterances at {sample_rate} Hz "
              f"with {ESPEAK} {espeak_version(executable)}); it is cached in {cache_dir()}",
              file=sys.stderr, flush=True)
        built = _build(executable, texts, jobs, held_out, sample_rate)
        for s, path in paths.items():
            write_atomic(path, lambda f, s=s: np.savez(f, **built[s]))
        print(f"multigan: speech corpus built in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        arrays = built[split]
    return arrays, texts, paths[split]


class Speech(Dataset):
    """The built-in ``speech`` (see :func:`speech`): utterance ``i`` randomly cropped (global
    torch RNG, so a resumed run reproduces it) or zero-padded to ``segment_length``."""

    def __init__(self, split: str = "train", sample_rate: int = 22050, segment_length: int = 8192,
                 seed: int = 0, n_sentences: int | None = None):
        arrays, texts, self.path = corpus(split, sample_rate, seed, n_sentences)
        self.split, self.sample_rate, self.segment_length = split, sample_rate, segment_length
        self.source = f"speech ({split})"
        self._audio, self._offsets = torch.from_numpy(arrays["audio"]), arrays["offsets"]
        self.sentence_ids = arrays["sentence"]
        self.texts = [texts[s] for s in self.sentence_ids]
        self.voices = [VOICES[v] for v in arrays["voice"]]
        self.rates, self.pitches = arrays["rate"], arrays["pitch"]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def seconds(self) -> float:
        """The split's length in seconds of audio."""
        return int(self._offsets[-1]) / self.sample_rate

    def utterance(self, i: int) -> Tensor:
        """Utterance ``i`` whole: float32 (1, frames), its peak at 0.95."""
        if not 0 <= i < len(self):
            raise IndexError(f"speech index {i} out of range for {len(self)} utterances")
        return (self._audio[self._offsets[i]:self._offsets[i + 1]].float() / 32767).unsqueeze(0)

    def __getitem__(self, i: int) -> Tensor:
        return _fit_length(self.utterance(i), self.segment_length)


def speech(split: str = "train", sample_rate: int = 22050, segment_length: int = 8192, seed: int = 0,
           n_sentences: int | None = None) -> Speech:
    """The built-in ``speech`` dataset: the 400 sentences of ``speech_sentences.txt`` spoken by
    espeak-ng, each :data:`RENDITIONS` times with a voice from :data:`VOICES` (distinct per
    sentence), a rate in :data:`RATES` and a pitch in :data:`PITCHES`, all drawn from
    ``(seed, sentence)``; 1,080 train and 120 test utterances, split by sentence (360 / 40).

    Each utterance is cut to its speech (leading and trailing audio :data:`TRIM_DB` dB below its
    peak removed, :data:`TRIM_MARGIN` s kept), resampled from espeak-ng's 22,050 Hz to
    ``sample_rate`` (torchaudio), peak-normalised to 0.95 as the folder loader does, and stored
    as 16-bit samples. Items are float32 (1, segment_length). ``n_sentences`` builds from the
    first sentences only (quick looks and tests). Raises :class:`DataError` naming the package
    to install when espeak-ng is missing.
    """
    return Speech(split, sample_rate, segment_length, seed, n_sentences)
