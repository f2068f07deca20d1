"""Audio quality on the built-in notes.

WaveGAN (unconditional): a pitch classifier multigan trains (once per sample rate and segment
length, cached) on the real ``notes`` training split, heard through noise at 10 to 50 dB
signal-to-noise ratio as well as clean, scores generated notes with the inception
score ``exp(E_x[KL(p(y|x) || p(y))])``: near 8 (the number of pitches) when every sample is a
clear note and the pitches are balanced, near 1 for noise or a single pitch. ``score_real``,
the same on real held-out notes, is the ceiling to compare with.

MelGAN (a vocoder): held-out real audio is turned into mels and back; the multi-resolution STFT
distance and the log-mel L1 distance to the original, against the same for an untrained vocoder
of the same config.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...cache import cached_model
from ...errors import ConfigError
from ...metrics import frechet_distance, one_thread, sample_in_chunks, untrained_like
from .data import PITCHES, AudioFolder, notes
from .features import MelConfig, MelSpectrogram, multi_resolution_stft_distance

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


def _real_notes(rate: int, length: int, n: int) -> list[Tensor]:
    """The first ``n`` notes of the test split, in chunks. Item ``i`` depends only on
    ``(seed, split, i)`` and the test split draws from its own stream, so for ``n`` above
    its default 512 items the split is extended and stays held out."""
    data = notes("test", sample_rate=rate, segment_length=length, size=n)
    return [torch.stack([data[i] for i in range(j, min(j + CHUNK, n))]) for j in range(0, n, CHUNK)]


@torch.no_grad()
def _classify(classifier: PitchClassifier, chunks: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The classifier's penultimate features and class probabilities of waveform chunks."""
    device = next(classifier.parameters()).device
    features = torch.cat([classifier.features(x.to(device)).cpu() for x in chunks])
    return features, classifier.head(features.to(device)).softmax(dim=1).cpu()


def _on_notes(gan, data: str | None, n_samples: int | None, what: str) -> tuple[int, int, int, PitchClassifier]:
    """The sample count (default 1,000), sample rate, segment length and pitch classifier for
    ``what`` metrics of ``gan``, which are defined on the built-in notes only."""
    if data not in (None, "notes"):
        raise ConfigError(f"{what} metrics are defined on the built-in notes dataset (its pitch classifier "
                          f"gives the classes); this run trained on {data!r}")
    rate, length = gan.sample_rate, gan.segment_length
    return 1000 if n_samples is None else n_samples, rate, length, pitch_classifier(rate, length, gan.device)


def evaluate_pitch(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict[str, float]:
    """``score`` and ``score_real``, ``fd`` and ``fd_untrained`` for an unconditional audio GAN
    (WaveGAN) trained on notes.

    ``score`` is the :func:`inception_score` of the pitch classifier on ``n_samples`` (default
    1,000) generated notes; ``score_real`` the same on as many real held-out notes (the test
    split, extended past its 512 items when more are asked for, so both scores use the same
    count: the score's bias depends on it). ``fd`` is the Fréchet distance between generated
    and real held-out notes in the classifier's penultimate features (FID's recipe, as FAD
    applies it to audio), ``fd_untrained`` the same for an untrained generator of the same
    config. All at the GAN's sample rate and segment length.
    """
    n, rate, length, classifier = _on_notes(gan, data, n_samples, "pitch")
    fake, fake_probs = _classify(classifier, sample_in_chunks(gan, n, seed, CHUNK))
    real, real_probs = _classify(classifier, _real_notes(rate, length, n))
    untrained, _ = _classify(classifier, sample_in_chunks(untrained_like(gan, seed), n, seed, CHUNK))
    return {
        "score": inception_score(fake_probs),
        "score_real": inception_score(real_probs),
        "fd": frechet_distance(fake, real),
        "fd_untrained": frechet_distance(untrained, real),
        "n_samples": n,
    }


def _held_out_audio(data: str | None, rate: int, length: int, n: int, seed: int) -> Tensor:
    """Real audio (n, 1, length) for a vocoder's metrics: test notes, or a folder's first files."""
    if data in (None, "notes"):
        return torch.cat(_real_notes(rate, length, n))
    folder = AudioFolder(data, rate, length, normalize="peak")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the random crops
        return torch.stack([folder[i] for i in range(min(n, len(folder)))])


@torch.no_grad()
def _vocode(gan, mels: Tensor, seed: int) -> Tensor:
    return torch.cat([gan.sample(cond=m, seed=seed) for m in mels.split(VOCODE_CHUNK)])


@torch.no_grad()
def evaluate_vocoder(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict[str, float]:
    """``stft_distance`` and ``mel_l1`` for a vocoder (MelGAN), and the same for an untrained
    vocoder of the same config (``stft_distance_untrained``, ``mel_l1_untrained``).

    ``n_samples`` (default 64) held-out real waveforms at the vocoder's mel sample rate and
    segment length are turned into mels with the vocoder's own mel config and vocoded back.
    ``stft_distance`` is :func:`multi_resolution_stft_distance` between vocoded and real audio,
    ``mel_l1`` the mean absolute difference of their log-mels. On ``notes`` (or no data) the
    real audio is the test split; on a folder it is the folder's first ``n_samples`` files
    (a random crop each, seeded by ``seed``, peak-normalised): pass a folder the vocoder did
    not train on to measure held-out quality.
    """
    n = 64 if n_samples is None else n_samples
    mel_config, length, device = gan.mel_config, gan.segment_length, gan.device
    front = MelSpectrogram(mel_config).to(device)
    real = _held_out_audio(data, mel_config.sample_rate, length, n, seed).to(device)
    real_mel = front(real)
    untrained = untrained_like(gan, seed)
    metrics: dict[str, float] = {}
    for suffix, vocoder in (("", gan), ("_untrained", untrained)):
        fake = _vocode(vocoder, real_mel, seed).float()
        metrics["stft_distance" + suffix] = float(multi_resolution_stft_distance(fake, real))
        metrics["mel_l1" + suffix] = float((front(fake) - real_mel).abs().mean())
    return {**metrics, "n_samples": len(real)}


def evaluate_labelled(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict[str, float]:
    """For a class-conditional audio GAN trained on notes (its labels the pitches):
    ``label_accuracy``, the share of ``n_samples`` (default 1,000) samples, asked for the labels
    0, 1, ..., 7, 0, ... in turn, that the pitch classifier hears as the asked pitch;
    ``label_accuracy_real``, the same on real held-out notes (the ceiling); and
    ``label_accuracy_untrained`` for an untrained generator (chance: about 1/8)."""
    n, rate, length, classifier = _on_notes(gan, data, n_samples, "label")
    asked = torch.arange(n) % len(PITCHES)
    real_set = notes("test", sample_rate=rate, segment_length=length, size=n)
    _, real_probs = _classify(classifier, _real_notes(rate, length, n))
    metrics = {"label_accuracy_real": float((real_probs.argmax(1) == real_set.labels).float().mean())}
    for suffix, model in (("", gan), ("_untrained", untrained_like(gan, seed))):
        chunks = [model.sample(cond=labels, seed=seed + i) for i, labels in enumerate(asked.split(CHUNK))]
        _, probs = _classify(classifier, chunks)
        metrics["label_accuracy" + suffix] = float((probs.argmax(1) == asked).float().mean())
    return {**metrics, "n_samples": n}
