import dataclasses
import math

import pytest
import soundfile as sf
import torch

import multigan
import multigan.registry
from multigan.errors import ConfigError
from multigan.modalities.audio import metrics
from multigan.modalities.audio.data import PITCHES, notes
from multigan.modalities.audio.features import MelConfig, MelSpectrogram
from multigan.modalities.audio.metrics import (PitchClassifier, evaluate_pitch, evaluate_vocoder,
                                               inception_score, pitch_classifier)

RATE, LENGTH = 16000, 16384


def test_inception_score_of_hand_made_tables():
    for c in (2, 8):
        assert inception_score(torch.eye(c).repeat(5, 1)) == pytest.approx(c)
        assert inception_score(torch.full((10, c), 1 / c)) == pytest.approx(1.0)
    assert inception_score(torch.tensor([[0.3, 0.7]] * 4)) == pytest.approx(1.0)
    # two classes, rows (0.9, 0.1) and (0.1, 0.9): exp(KL((0.9, 0.1) || (0.5, 0.5)))
    expected = math.exp(0.9 * math.log(1.8) + 0.1 * math.log(0.2))
    assert inception_score(torch.tensor([[0.9, 0.1], [0.1, 0.9]])) == pytest.approx(expected)


def test_pitch_classifier_is_accurate_on_the_test_split():
    clf = pitch_classifier(RATE, LENGTH)
    test = notes("test", RATE, LENGTH)
    x = torch.stack([test[i] for i in range(len(test))])
    with torch.no_grad():
        logits = clf(x)
        assert clf.features(x[:3]).shape == (3, metrics.FEATURES)
    assert logits.shape == (len(test), len(PITCHES))
    assert (logits.argmax(1) == test.labels).float().mean() > 0.95


def test_pitch_classifier_hears_the_pitch_through_noise():
    """Trained through noise, it names the pitch of a note at 15 dB SNR, which one trained on
    clean notes alone would not."""
    clf = pitch_classifier(RATE, LENGTH)
    test = notes("test", RATE, LENGTH)
    x = torch.stack([test[i] for i in range(len(test))])
    g = torch.Generator().manual_seed(1)
    rms = x.square().mean(dim=(1, 2), keepdim=True).sqrt()
    noisy = x + torch.randn(x.shape, generator=g) * rms * 10 ** (-15 / 20)
    with torch.no_grad():
        assert (clf(noisy).argmax(1) == test.labels).float().mean() > 0.9
        assert metrics.inception_score(clf(noisy).softmax(1)) > 6


def test_a_damaged_classifier_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path))
    trained = []
    monkeypatch.setattr(metrics, "_train_classifier", lambda rate, length: trained.append(1) or PitchClassifier(rate))
    pitch_classifier(8000, 4096)
    (cached,) = tmp_path.glob("pitch_classifier-v*-8000hz-4096.pt")
    pitch_classifier(8000, 4096)
    assert len(trained) == 1
    cached.write_bytes(b"damaged")
    assert isinstance(pitch_classifier(8000, 4096), PitchClassifier) and len(trained) == 2
    assert torch.load(cached, weights_only=True)   # rewritten whole


class StandIn:
    """What the evaluators use of a GAN: the AudioGAN contract (``sample_rate``,
    ``segment_length``, ``mel_config``), ``config``, ``device``, ``name``, ``kernels``, ``sample``,
    ``place`` and ``use_kernels``."""

    def __init__(self, make, config):
        self.make, self.config, self.device, self.name = make, config, torch.device("cpu"), "stand-in"
        self.kernels, self.mel_config = "auto", getattr(config, "mel", None)
        self.sample_rate = config.sample_rate if self.mel_config is None else self.mel_config.sample_rate
        self.segment_length = config.segment_length

    def use_kernels(self, kernels):
        return self

    def sample(self, n=None, *, seed=None, cond=None):
        return self.make(n, seed, cond)

    def place(self, device):
        return self


def replay_test_notes(n, seed, cond):
    data = notes("test", RATE, LENGTH)
    idx = torch.randint(len(data), (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([data[int(i)] for i in idx])


@dataclasses.dataclass
class WaveGANLike:
    sample_rate: int = RATE
    segment_length: int = LENGTH


WAVEGAN_LIKE = WaveGANLike()


def uniform_noise(n, seed, cond):
    return torch.rand(n, 1, LENGTH, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture
def noise_when_untrained(monkeypatch):
    """The "untrained generator" the pitch metrics build: uniform noise."""
    monkeypatch.setattr(multigan.registry, "build", lambda name, **config: StandIn(uniform_noise, WAVEGAN_LIKE))


def test_real_notes_score_like_real_notes_and_noise_scores_near_one(noise_when_untrained):
    real = evaluate_pitch(StandIn(replay_test_notes, WAVEGAN_LIKE), None, n_samples=200)
    assert set(real) == {"score", "score_real", "fd", "fd_untrained", "n_samples"} and real["n_samples"] == 200
    assert real["fd"] < 0.1 * real["fd_untrained"]  # real notes sit near real notes, noise far away
    assert real["score_real"] > 6                 # 8 pitches, near uniformly drawn, clearly heard
    assert real["score"] == pytest.approx(real["score_real"], rel=0.1)
    silence = evaluate_pitch(StandIn(lambda n, seed, cond: torch.zeros(n, 1, LENGTH), WAVEGAN_LIKE), "notes",
                             n_samples=100)
    assert silence["score"] == pytest.approx(1.0, abs=1e-3)
    noise = evaluate_pitch(StandIn(uniform_noise, WAVEGAN_LIKE), None, n_samples=100)
    assert noise["score"] < 1.5 and noise["score_real"] == pytest.approx(real["score_real"], rel=0.1)
    assert noise["fd"] == pytest.approx(noise["fd_untrained"])


def test_samples_are_drawn_in_seeded_chunks(noise_when_untrained):
    seeds = []

    def record(n, seed, cond):
        seeds.append((n, seed))
        return torch.zeros(n, 1, LENGTH)

    evaluate_pitch(StandIn(record, WAVEGAN_LIKE), None, n_samples=510, seed=3)
    assert seeds == [(250, 3), (250, 253), (10, 503)]


def test_pitch_metrics_need_the_notes_dataset():
    with pytest.raises(ConfigError, match="notes"):
        evaluate_pitch(StandIn(replay_test_notes, WAVEGAN_LIKE), "/some/folder")


@dataclasses.dataclass
class VocoderConfig:
    mel: MelConfig = dataclasses.field(default_factory=MelConfig)
    segment_length: int = 8192


def oracle_vocoder(n_notes):
    """Returns the real test note whose mel is the one asked for: a perfect vocoder."""
    config = VocoderConfig()
    wavs = torch.stack([w for w in notes("test", config.mel.sample_rate, config.segment_length, size=n_notes)])
    mels = MelSpectrogram(config.mel)(wavs)

    def vocode(n, seed, cond):
        nearest = torch.cdist(cond.flatten(1), mels.flatten(1)).argmin(1)
        return wavs[nearest]
    return StandIn(vocode, config)


def test_vocoder_metrics_against_an_untrained_vocoder(monkeypatch):
    built = []

    def build(name, **config):
        built.append((name, config))
        return StandIn(lambda n, seed, cond: 0.01 * torch.randn(len(cond), 1, 8192), VocoderConfig())

    monkeypatch.setattr(multigan.registry, "build", build)
    result = evaluate_vocoder(oracle_vocoder(8), None, n_samples=8)
    assert set(result) == {"stft_distance", "mel_l1", "stft_distance_untrained", "mel_l1_untrained", "n_samples"}
    assert result["stft_distance"] == pytest.approx(0, abs=1e-4) and result["mel_l1"] == pytest.approx(0, abs=1e-4)
    assert result["stft_distance_untrained"] > 1 and result["mel_l1_untrained"] > 0.5
    assert result["n_samples"] == 8
    assert built == [("stand-in", dataclasses.asdict(VocoderConfig()))]


def test_vocoder_metrics_on_a_folder(tmp_path, monkeypatch):
    for k in range(3):
        t = torch.arange(30000) / 22050
        sf.write(tmp_path / f"{k}.wav", (0.3 * torch.sin(2 * torch.pi * (200 + 100 * k) * t)).numpy(), 22050)
    monkeypatch.setattr(multigan.registry, "build", lambda name, **config: StandIn(
        lambda n, seed, cond: torch.zeros(len(cond), 1, 8192), VocoderConfig()))
    echo = StandIn(lambda n, seed, cond: torch.zeros(len(cond), 1, 8192), VocoderConfig())
    result = evaluate_vocoder(echo, str(tmp_path), n_samples=5)
    assert result["n_samples"] == 3     # the folder has three files
    assert result["mel_l1"] == pytest.approx(result["mel_l1_untrained"])


def test_vocoder_metrics_with_melgan():
    gan = multigan.build("melgan")
    result = evaluate_vocoder(gan, None, n_samples=2)
    assert result["n_samples"] == 2
    for key in ("stft_distance", "mel_l1", "stft_distance_untrained", "mel_l1_untrained"):
        assert torch.isfinite(torch.tensor(result[key]))
    assert result["mel_l1"] > 0 and result["stft_distance"] > 0
