"""Audio quality: the features and the trivial reference points that the distances of
:mod:`multigan.metrics` are computed on. Every evaluator returns the model's metrics, their
sample count, and under ``"references"`` the same metrics of reference points computed in the
same run, on the same features, against the same real audio (see docs/evaluation.md).

WaveGAN (unconditional, :func:`evaluate_pitch`), against real held-out notes (the test split):

- ``score``: the inception score of a pitch classifier multigan trains (once per sample rate
  and segment length, cached) on the ``notes`` training split, heard through noise at 10 to
  50 dB signal-to-noise ratio as well as clean: near 8 when every sample is a clear note and
  the pitches are balanced, near 1 for noise or a single pitch;
- ``fd``: the Fréchet distance in the classifier's penultimate features;
- ``fd_mel``: the Fréchet distance of per-clip log-mel statistics (the mean and standard
  deviation over time of each band, :func:`mel_statistics`), which see timbre, envelope and
  noise floor, where the classifier was trained to see pitch;
- ``pitch_kl``: :func:`~multigan.metrics.class_histogram_kl` of the classifier's confident
  pitches.

References: ``real`` (other real held-out notes: the floor), ``sines`` (one constant pure tone
per pitch at the notes' loudness), ``noise`` (white noise at the notes' loudness) and
``untrained`` (a freshly built generator of the same config).

MelGAN and HiFi-GAN (vocoders, :func:`evaluate_vocoder`): held-out real audio is turned into
mels and vocoded back; ``mel_l1``, ``stft_distance``, ``loudness_error_db``, (on notes)
``pitch_accuracy`` and the speech metrics of :mod:`.speech_metrics` (``pesq``, ``stoi``,
``f0_rmse``, ``vuv_f1``) against the originals, beside ``griffin_lim`` (no training: the mel
inverted by least squares and Griffin-Lim), ``wrong_mel`` (the vocoder fed another clip's mel),
``noise`` (white noise at each clip's loudness) and ``untrained``.

A class-conditional GAN (:func:`evaluate_labelled`): ``label_accuracy``, beside ``real``
(real notes against their own labels: the ceiling) and ``untrained`` (chance).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from ...cache import cached_model
from ...classification import ClassifierScores
from ...errors import ConfigError
from ...metrics import (class_histogram_kl, frechet_distance, one_thread, sample_in_chunks, untrained_like,
                        with_references)
from .data import PITCHES, AudioFolder, midi_to_hz, notes
from .features import MelConfig, MelSpectrogram, mel_l1, multi_resolution_stft_distance
from .speech import speech
from .speech_metrics import SpeechMetrics

CLASSIFIER_VERSION = 3
FEATURES = 128
N_MELS = 64
DYNAMIC_RANGE = 4.0   # log10 units below each example's loudest bin that the classifier sees (80 dB)
CHUNK = 250           # samples generated or classified per call
# The classifier learns each note through white noise at a signal-to-noise ratio drawn from
# this range (dB, against the note's RMS), except for a quarter heard clean: it names the pitch
# a listener would hear, instead of reading any noise above the notes' -60 dB floor as "no
# note" (trained on clean notes only, it gave 1.6 to generated notes whose pitch was plain).
AUGMENT_SNR_DB = (10.0, 50.0)
AUGMENT_CLEAN = 0.25
VOCODE_CHUNK = 16     # mels vocoded per call
STATS_WINDOW_S = 0.064   # mel_statistics' window: about 64 ms at any sample rate (1,024 at 16 kHz)
STATS_BANDS = 64         # mel_statistics' bands (fewer where the window has too few FFT bins)
# mel_statistics' floor, in dB below each clip's loudest bin: the notes' own range from their
# loudest bin to their -60 dBFS noise floor (71 dB, the median). Without it, a clean tone's
# empty bands (at the front end's -100 dB clamp) would count as far from the notes' floor as
# missing harmonics do: 80% of the pure sines' distance was that inaudible difference.
STATS_RANGE_DB = 70.0
LEVEL_FLOOR = 1e-5       # RMS levels are clamped to this (-100 dBFS) before taking dB
GRIFFIN_LIM_ITERS = 32   # torchaudio's default
SPEECH_CLIP_S = 1.5      # held-out speech clips a vocoder is scored on: long enough for STOI and PESQ


class PitchClassifier(nn.Module):
    """A small CNN on log-mel features (64 bands, n_fft 1024, hop 256) of waveforms (N, 1, T).

    Each example's log-mel is taken relative to its loudest bin (so the level does not
    matter) and summarised over time by its maximum and mean per band (so a note is read
    wherever it sounds, and any length works); 1-D convolutions over frequency follow.
    ``features`` gives the penultimate layer, ``forward`` logits over :data:`PITCHES`.
    """

    def __init__(self, sample_rate: int):
        super().__init__()
        self.mel = MelSpectrogram(MelConfig(sample_rate=sample_rate, n_fft=1024, hop_length=256,
                                            win_length=1024, n_mels=N_MELS, f_max=0.0))
        self.body = nn.Sequential(
            nn.Conv1d(2, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
            nn.Flatten(), nn.Linear(32 * (N_MELS // 4), FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, len(PITCHES))

    def spectrum(self, x: Tensor) -> Tensor:
        """Waveforms (N, 1, T) -> (N, 2, bands): per band, the maximum and the mean over time of
        the log-mel relative to the example's loudest bin, scaled from [-80 dB, 0] to [0, 1]."""
        mel = self.mel(x.float())
        mel = (mel - mel.amax(dim=(1, 2), keepdim=True)).clamp(min=-DYNAMIC_RANGE) / DYNAMIC_RANGE + 1
        return torch.stack([mel.amax(dim=2), mel.mean(dim=2)], dim=1)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (N, 128) of waveforms (N, 1, T)."""
        return self.body(self.spectrum(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _train_classifier(sample_rate: int, segment_length: int, epochs: int = 6,
                      batch_size: int = 64) -> PitchClassifier:
    """Train on the notes training split, heard through noise (see :data:`AUGMENT_SNR_DB`)."""
    data = notes("train", sample_rate=sample_rate, segment_length=segment_length)
    with torch.random.fork_rng(devices=[]), one_thread():
        torch.manual_seed(0)
        model = PitchClassifier(sample_rate)
        waves = torch.stack([data[i] for i in range(len(data))])
        rms = waves.square().mean(dim=(1, 2), keepdim=True).sqrt()
        low, high = AUGMENT_SNR_DB
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(epochs):
            snr = low + torch.rand(len(waves), 1, 1) * (high - low)
            noisy = torch.rand(len(waves), 1, 1) >= AUGMENT_CLEAN
            heard = waves + noisy * torch.randn(waves.shape) * rms * 10 ** (-snr / 20)
            # the spectra are computed once per epoch: the mel front end has no parameters
            with torch.no_grad():
                spectra = torch.cat([model.spectrum(chunk) for chunk in heard.split(256)])
            for idx in torch.randperm(len(data)).split(batch_size):
                loss = F.cross_entropy(model.head(model.body(spectra[idx])), data.labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


def pitch_classifier(sample_rate: int, segment_length: int, device: torch.device | str = "cpu") -> PitchClassifier:
    """The pitch classifier for notes at ``sample_rate`` and ``segment_length``, trained on the
    ``notes`` training split on first use (deterministically) and cached; a damaged cache
    file is rebuilt."""
    return cached_model(f"pitch_classifier-v{CLASSIFIER_VERSION}-{sample_rate}hz-{segment_length}.pt",
                        PitchClassifier(sample_rate), lambda: _train_classifier(sample_rate, segment_length),
                        device)


def inception_score(probs: Tensor) -> float:
    """``exp(E_x[KL(p(y|x) || p(y))])`` of class probabilities (N, C), ``p(y)`` their mean;
    from 1 (every row the same) to C (confident rows, classes balanced). Computed in float64."""
    p = probs.detach().double().cpu()
    marginal = p.mean(dim=0, keepdim=True)
    kl = (torch.xlogy(p, p) - torch.xlogy(p, marginal)).sum(dim=1)
    return float(kl.mean().exp())


# -- features -------------------------------------------------------------------------------

def statistics_mel_config(sample_rate: int) -> MelConfig:
    """The front end of :func:`mel_statistics` at ``sample_rate``: Hann windows of about 64 ms
    (n_fft the nearest power of two: 256 at 4 kHz, 1,024 at 16 and 22.05 kHz), a hop of a
    quarter window, 64 Slaney mel bands from 0 Hz to Nyquist (n_fft / 4 where that is fewer),
    log10 of magnitudes clamped at 1e-5: the mel of :class:`MelSpectrogram` (as MelGAN's), scaled
    with the sample rate so a window spans the same time at every rate."""
    n_fft = 2 ** max(4, round(math.log2(sample_rate * STATS_WINDOW_S)))
    return MelConfig(sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, win_length=n_fft,
                     n_mels=min(STATS_BANDS, n_fft // 4))


def mel_statistics(front: MelSpectrogram, wav: Tensor) -> Tensor:
    """Per-clip log-mel statistics (N, 2 x bands) of waveforms (N, 1, T): the mean and the
    standard deviation over time of each band's log10 magnitude, floored
    :data:`STATS_RANGE_DB` below the clip's loudest bin. The means give the spectrum (the
    timbre, the level, a noise floor above the notes' own), the deviations how each band
    changes over the clip (the envelope: a constant tone has none)."""
    mel = front(wav.float())
    mel = torch.maximum(mel, mel.amax(dim=(1, 2), keepdim=True) - STATS_RANGE_DB / 20)
    return torch.cat([mel.mean(dim=2), mel.std(dim=2)], dim=1)


def level_db(wav: Tensor) -> Tensor:
    """Each clip's RMS level in dBFS (N,) of waveforms (N, 1, T); silence reads -100."""
    return 20 * wav.float().square().mean(dim=(1, 2)).sqrt().clamp(min=LEVEL_FLOOR).log10()


def typical_rms(chunks: list[Tensor]) -> float:
    """The median RMS of the clips in waveform chunks: the level of a typical clip."""
    return float(torch.cat([x.float().square().mean(dim=(1, 2)).sqrt().cpu() for x in chunks]).median())


@torch.no_grad()
def _classify(classifier: PitchClassifier, chunks: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The classifier's penultimate features and class probabilities of waveform chunks."""
    device = next(classifier.parameters()).device
    with one_thread():
        features = torch.cat([classifier.features(x.to(device)).cpu() for x in chunks])
        return features, classifier.head(features.to(device)).softmax(dim=1).cpu()


# -- reference points -------------------------------------------------------------------------

def sines(n: int, sample_rate: int, length: int, rms: float) -> Tensor:
    """``n`` constant pure tones (n, 1, length), sample ``i`` at the pitch ``PITCHES[i % 8]``,
    each at RMS ``rms`` (amplitude ``rms * sqrt(2)``), starting at phase 0: every pitch, clearly
    heard, balanced, with none of a note's harmonics, envelope or noise floor."""
    t = torch.arange(length, dtype=torch.float64) / sample_rate
    hz = torch.tensor([midi_to_hz(PITCHES[i % len(PITCHES)]) for i in range(n)], dtype=torch.float64)
    wave = math.sqrt(2) * rms * torch.sin(2 * math.pi * hz[:, None] * t[None, :])
    return wave.clamp(-1, 1).float().unsqueeze(1)


def white_noise(n: int, length: int, rms: float | Tensor, seed: int = 0) -> Tensor:
    """``n`` clips (n, 1, length) of Gaussian white noise at RMS ``rms`` (one level, or one per
    clip), clipped to [-1, 1], drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    level = torch.as_tensor(rms, dtype=torch.float32).cpu().reshape(-1, 1, 1)
    return (torch.randn(n, 1, length, generator=g) * level).clamp(-1, 1)


@torch.no_grad()
def griffin_lim(mels: Tensor, config: MelConfig, seed: int = 0, n_iter: int = GRIFFIN_LIM_ITERS) -> Tensor:
    """Waveforms (N, 1, frames x hop) from log-mels (N, n_mels, frames) of
    ``MelSpectrogram(config)``, with no training: the mel is exponentiated (its clamp at
    ``log_floor`` cannot be undone: floored bins come back at the floor), mapped back to a
    linear-frequency magnitude by torchaudio's ``InverseMelScale`` (the non-negative part of the
    least-squares solution for the same Slaney filterbank), and given a phase by torchaudio's
    ``GriffinLim`` (``n_iter`` iterations, momentum 0.99, random initial phases drawn from
    ``seed``; the global random state is left alone) with the config's FFT size, window and
    hop. The result is not clipped to [-1, 1]: where a peak overshoots, clipping would add a
    distortion that is no fault of the mel inversion (on notes it raised the log-mel L1 from
    0.22 to 0.25).

    The front end frames a segment without centring (frame ``k`` is centred on sample
    ``(k + 1/2) hop``) where Griffin-Lim's STFT centres frame ``k`` on ``k hop``: the
    spectrogram gets one repeated frame at each end, and the result is read from half a hop
    in, so every output sample lines up with the frames it came from.
    """
    c = config
    magnitude = (10.0 ** mels.float()) if c.log_base == "10" else mels.float().exp()
    inverse_mel = torchaudio.transforms.InverseMelScale(
        n_stft=c.n_fft // 2 + 1, n_mels=c.n_mels, sample_rate=c.sample_rate, f_min=c.f_min,
        f_max=c.f_max or None, norm="slaney", mel_scale="slaney").to(mels.device)
    phase = torchaudio.transforms.GriffinLim(
        n_fft=c.n_fft, n_iter=n_iter, win_length=c.win_length, hop_length=c.hop_length,
        window_fn=torch.hann_window, power=1.0).to(mels.device)
    cuda = [mels.device] if mels.device.type == "cuda" else []
    # one thread: the batched least squares took 3 s on two threads against 0.2 s on one
    with torch.autocast(mels.device.type, enabled=False), torch.random.fork_rng(devices=cuda), one_thread():
        torch.manual_seed(seed)
        spec = F.pad(inverse_mel(magnitude), (1, 1), mode="replicate")
        wave = phase(spec)
    start, length = c.hop_length // 2, mels.shape[-1] * c.hop_length
    return wave[..., start:start + length].unsqueeze(1)


def _in_chunks(x: Tensor) -> list[Tensor]:
    return list(x.split(CHUNK))


def _real_notes(rate: int, length: int, n: int, start: int = 0) -> list[Tensor]:
    """Notes ``start`` to ``start + n - 1`` of the test split, in chunks. Item ``i`` depends only
    on ``(seed, split, i)`` and the test split draws from its own stream, so past its default
    512 items the split is extended and stays held out."""
    data = notes("test", sample_rate=rate, segment_length=length, size=start + n)
    return [torch.stack([data[i] for i in range(j, min(j + CHUNK, start + n))]) for j in range(start, start + n, CHUNK)]


def _shaped(result: dict, n: int) -> dict:
    """A :func:`~multigan.metrics.with_references` result with ``n_samples`` before the
    references (the order ``multigan eval`` prints)."""
    references = result.pop("references")
    return {**result, "n_samples": n, "references": references}


# -- evaluators -------------------------------------------------------------------------------

def _on_notes(gan, data: str | None, n_samples: int | None, what: str) -> tuple[int, int, int, PitchClassifier]:
    """The sample count (default 1,000), sample rate, segment length and pitch classifier for
    ``what`` metrics of ``gan``, which are defined on the built-in notes only."""
    if data not in (None, "notes"):
        raise ConfigError(f"{what} metrics are defined on the built-in notes dataset (its pitch classifier "
                          f"gives the classes); this run trained on {data!r}")
    rate, length = gan.sample_rate, gan.segment_length
    return 1000 if n_samples is None else n_samples, rate, length, pitch_classifier(rate, length, gan.device)


def _note_distances(classifier: PitchClassifier, rate: int, held_out: list[Tensor], device):
    """``features(chunks) -> (deep, probs, mel statistics)`` of waveform chunks, and
    ``distances(deep, probs, stats) -> {"fd", "fd_mel", "pitch_kl"}`` against ``held_out``."""
    front = MelSpectrogram(statistics_mel_config(rate)).to(device)

    def features(chunks: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        deep, probs = _classify(classifier, chunks)
        with torch.no_grad(), one_thread():
            stats = torch.cat([mel_statistics(front, x.to(device)).cpu() for x in chunks])
        return deep, probs, stats

    real_deep, real_probs, real_stats = features(held_out)

    def distances(deep: Tensor, probs: Tensor, stats: Tensor) -> dict[str, float]:
        return {"fd": frechet_distance(deep, real_deep), "fd_mel": frechet_distance(stats, real_stats),
                "pitch_kl": class_histogram_kl(probs, real_probs)}

    return features, distances


@torch.no_grad()
def evaluate_pitch(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict:
    """``score``, ``fd``, ``fd_mel`` and ``pitch_kl`` of an unconditional audio GAN (WaveGAN)
    trained on notes, and of the references ``real``, ``sines``, ``noise`` and ``untrained``.

    ``n_samples`` (default 1,000) generated notes are compared with as many real held-out notes
    (the test split's first ``n_samples``, extended past its 512 items when more are asked
    for), at the GAN's sample rate and segment length:

    - ``score``: the :func:`inception_score` of the pitch classifier (no comparison: its own
      ceiling is the ``real`` reference's, at the same count, as the score's bias depends on it);
    - ``fd``: the Fréchet distance in the classifier's penultimate features (FID's recipe, as
      FAD applies it to audio);
    - ``fd_mel``: the Fréchet distance of :func:`mel_statistics` under
      :func:`statistics_mel_config`;
    - ``pitch_kl``: :func:`~multigan.metrics.class_histogram_kl` of the classifier's
      probabilities, against the real notes'.

    The references, ``n_samples`` each: ``real``, the test split's next ``n_samples`` notes
    (real notes the metrics do not compare with: the floor of each distance and the score's
    ceiling); ``sines``, :func:`sines` at the real notes' median RMS; ``noise``,
    :func:`white_noise` at that RMS, drawn from ``seed``; ``untrained``, a generator of the same
    config with fresh weights (from ``seed``). Samples are drawn as
    :func:`~multigan.metrics.sample_in_chunks` draws them, from ``seed``.
    """
    n, rate, length, classifier = _on_notes(gan, data, n_samples, "pitch")
    held_out = _real_notes(rate, length, n)
    rms = typical_rms(held_out)
    features, distances = _note_distances(classifier, rate, held_out, gan.device)

    def score(chunks: list[Tensor]) -> dict[str, float]:
        deep, probs, stats = features(chunks)
        return {"score": inception_score(probs), **distances(deep, probs, stats)}

    references: dict[str, Callable[[], list[Tensor]]] = {
        "real": lambda: _real_notes(rate, length, n, start=n),
        "sines": lambda: _in_chunks(sines(n, rate, length, rms)),
        "noise": lambda: _in_chunks(white_noise(n, length, rms, seed)),
        "untrained": lambda: sample_in_chunks(untrained_like(gan, seed), n, seed, CHUNK),
    }
    return _shaped(with_references(score, sample_in_chunks(gan, n, seed, CHUNK), references), n)


def _held_out_audio(data: str | None, rate: int, length: int, hop: int, n: int,
                    seed: int) -> tuple[Tensor, Tensor | None]:
    """Real audio (n, 1, frames) for a vocoder's metrics and its pitch labels: test notes of
    ``length`` samples; the built-in speech's test utterances, cropped to :data:`SPEECH_CLIP_S`
    seconds (a whole number of hops) or ``length`` if longer, so that STOI and PESQ can score
    them (no labels); or a folder's first files at ``length`` (no labels)."""
    if data in (None, "notes"):
        return torch.cat(_real_notes(rate, length, n)), notes("test", rate, length, size=n).labels
    if data == "speech":
        clips = speech("test", rate, max(length, int(SPEECH_CLIP_S * rate) // hop * hop))
    else:
        clips = AudioFolder(data, rate, length, normalize="peak")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the random crops
        return torch.stack([clips[i] for i in range(min(n, len(clips)))]), None


@torch.no_grad()
def _vocode(gan, mels: Tensor, seed: int) -> Tensor:
    return torch.cat([gan.sample(cond=m, seed=seed) for m in mels.split(VOCODE_CHUNK)]).float()


@torch.no_grad()
def evaluate_vocoder(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict:
    """``mel_l1``, ``stft_distance``, ``loudness_error_db``, (on notes) ``pitch_accuracy`` and the
    speech metrics ``pesq``, ``stoi``, ``f0_rmse`` and ``vuv_f1`` of a vocoder (MelGAN,
    HiFi-GAN), and of the references ``griffin_lim``, ``wrong_mel``, ``noise`` and
    ``untrained``, all against the same real audio.

    ``n_samples`` (default 64) held-out real waveforms at the vocoder's mel sample rate and
    segment length are turned into mels with the vocoder's own mel config and vocoded back. On
    ``notes`` (or no data) the real audio is the test split; on ``speech``, 1.5-second crops of
    its test utterances (seeded by ``seed``; longer than a training segment, so that STOI and
    PESQ apply, and a vocoder vocodes any length); on a folder it is the folder's
    first ``n_samples`` files (a random crop each, seeded by ``seed``, peak-normalised): pass a
    folder the vocoder did not train on to measure held-out quality.

    - ``mel_l1``: the mean absolute difference of vocoded and real log-mels (the vocoder's own);
    - ``stft_distance``: :func:`multi_resolution_stft_distance` to the real audio;
    - ``loudness_error_db``: the mean over clips of the vocoded minus the real RMS level in dB
      (signed: a quiet vocoder reads negative; half the amplitude reads -6);
    - ``pitch_accuracy`` (notes only): the share of vocoded clips that the pitch classifier
      hears at the input note's pitch;
    - ``pesq``, ``stoi``, ``f0_rmse`` (cents), ``vuv_f1``, with ``pesq_clips``, ``stoi_clips``
      and ``f0_frames``: :class:`~.speech_metrics.SpeechMetrics` against the same real clips,
      at the run's clip length (a metric the clips are too short for, or whose package is
      missing, is None with a ``<metric>_reason``); the F0 metrics on the first
      :data:`~.speech_metrics.F0_CLIPS` clips.

    The references: ``griffin_lim``, :func:`griffin_lim` of the same mels (what no training
    gives); ``wrong_mel``, the vocoder fed the mels rolled by one (clip ``i`` gets clip
    ``i + 1``'s: a pairing at random, so on notes about one in eight shares the pitch, as it
    would for a vocoder that ignores its input, whose ``wrong_mel`` figures equal its own);
    ``noise``, :func:`white_noise` at each real clip's RMS (``loudness_error_db`` near 0, the
    rest far); ``untrained``, a vocoder of the same config with fresh weights (from ``seed``).
    """
    n = 64 if n_samples is None else n_samples
    mel_config, length, device = gan.mel_config, gan.segment_length, gan.device
    front = MelSpectrogram(mel_config).to(device)
    real, labels = _held_out_audio(data, mel_config.sample_rate, length, mel_config.hop_length, n, seed)
    real = real.to(device)
    real_mel, real_level = front(real), level_db(real)
    classifier = None if labels is None else pitch_classifier(mel_config.sample_rate, length, device)
    speech = SpeechMetrics(real, mel_config.sample_rate)

    def score(fake: Tensor) -> dict[str, float | int | str | None]:
        fake = fake.to(device).float()
        with one_thread():
            metrics = {"mel_l1": float(mel_l1(front, fake, real_mel)),
                       "stft_distance": float(multi_resolution_stft_distance(fake, real)),
                       "loudness_error_db": float((level_db(fake) - real_level).mean())}
        if classifier is not None:
            _, probs = _classify(classifier, fake.split(CHUNK))
            metrics["pitch_accuracy"] = float((probs.argmax(1) == labels).float().mean())
        return {**metrics, **speech(fake)}

    references: dict[str, Callable[[], Tensor]] = {
        "griffin_lim": lambda: griffin_lim(real_mel, mel_config, seed),
        "wrong_mel": lambda: _vocode(gan, real_mel.roll(-1, dims=0), seed),
        "noise": lambda: white_noise(len(real), real.shape[-1], real.square().mean(dim=(1, 2)).sqrt(), seed),
        "untrained": lambda: _vocode(untrained_like(gan, seed), real_mel, seed),
    }
    return _shaped(with_references(score, _vocode(gan, real_mel, seed), references), len(real))


@torch.no_grad()
def evaluate_labelled(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict:
    """``label_accuracy`` of a class-conditional audio GAN trained on notes (its labels the
    pitches): the share of ``n_samples`` (default 1,000) samples, asked for the labels 0, 1,
    ..., 7, 0, ... in turn, that the pitch classifier hears as the asked pitch; and ``fd``,
    ``fd_mel`` against real held-out notes, as :func:`evaluate_pitch` computes them.

    References: ``real`` (the test split's next notes against their own labels: the ceiling),
    ``sines`` (a pure tone at each asked pitch: a non-model with a perfect ``label_accuracy``,
    which only ``fd`` and ``fd_mel`` tell from notes) and ``untrained`` (chance: about 1/8).

    Also ``cas`` and ``augmentation_gain`` (:mod:`multigan.classification`: classifiers trained
    on the pitch classifier's log-mel summary of the labelled samples, tested on the held-out
    notes; means over 3 seeds with their ``_std``), for the GAN and each reference; and once
    ``cas_real`` (trained on ``n_samples`` real training notes) and ``few_shot_accuracy`` (10
    real notes per pitch alone)."""
    n, rate, length, classifier = _on_notes(gan, data, n_samples, "label")
    asked = torch.arange(n) % len(PITCHES)
    held_out = _real_notes(rate, length, n)
    features, distances = _note_distances(classifier, rate, held_out, gan.device)

    def spectra(chunks: list[Tensor]) -> Tensor:   # what the cas classifiers read
        with torch.no_grad(), one_thread():
            return torch.cat([classifier.spectrum(x.to(gan.device)).cpu() for x in chunks])

    train = notes("train", rate, length, size=n)
    train_chunks = [torch.stack([train[i] for i in range(j, min(j + CHUNK, n))]) for j in range(0, n, CHUNK)]
    test_labels = notes("test", rate, length, size=n).labels
    probe = ClassifierScores((spectra(train_chunks), train.labels), (spectra(held_out), test_labels),
                             num_classes=len(PITCHES), n_train=n)

    def generated(model) -> tuple[list[Tensor], Tensor]:
        return [model.sample(cond=labels, seed=seed + i) for i, labels in enumerate(asked.split(CHUNK))], asked

    def score(clips: tuple[list[Tensor], Tensor]) -> dict[str, float]:
        chunks, labels = clips
        deep, probs, stats = features(chunks)
        fit = distances(deep, probs, stats)
        return {"label_accuracy": float((probs.argmax(1) == labels).float().mean()),
                **probe.scores(spectra(chunks), labels), "fd": fit["fd"], "fd_mel": fit["fd_mel"]}

    real_labels = notes("test", rate, length, size=2 * n).labels[n:]
    references = {
        "real": lambda: (_real_notes(rate, length, n, start=n), real_labels),
        "sines": lambda: (_in_chunks(sines(n, rate, length, typical_rms(held_out))), asked),
        "untrained": lambda: generated(untrained_like(gan, seed)),
    }
    return {**probe.real_scores(), **_shaped(with_references(score, generated(gan), references), n)}
