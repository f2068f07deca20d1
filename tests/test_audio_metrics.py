import dataclasses
import math

import pytest
import soundfile as sf
import torch

import multigan
import multigan.registry
from multigan.errors import ConfigError
from multigan.modalities.audio import metrics
from multigan.modalities.audio.data import PITCHES, midi_to_hz, notes
from multigan.modalities.audio.features import MelConfig, MelSpectrogram
from multigan.modalities.audio.metrics import (PitchClassifier, evaluate_pitch, evaluate_vocoder, griffin_lim,
                                               inception_score, pitch_classifier, sines, white_noise)

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


# -- WaveGAN: evaluate_pitch ---------------------------------------------------------------------
# at the WaveGAN notes recipe's 4 kHz and 4,096 samples (the classifier the recipe caches)

WAVE_RATE, WAVE_LENGTH = 4000, 4096
PITCH_METRICS = {"score", "fd", "fd_mel", "pitch_kl"}


@dataclasses.dataclass
class WaveGANLike:
    sample_rate: int = WAVE_RATE
    segment_length: int = WAVE_LENGTH


WAVEGAN_LIKE = WaveGANLike()


def replay_training_notes(n, seed, cond, snr_db=None):
    """A 'generator' that replays notes of the training split (what a GAN that memorised its
    data would give), optionally over white noise ``snr_db`` below each note's RMS."""
    data = notes("train", WAVE_RATE, WAVE_LENGTH)
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([data[int(i)] for i in torch.randint(len(data), (n,), generator=g)])
    if snr_db is not None:
        rms = x.square().mean(dim=(1, 2), keepdim=True).sqrt()
        x = x + torch.randn(x.shape, generator=g) * rms * 10 ** (-snr_db / 20)
    return x


def silence(n, seed, cond):
    return torch.zeros(n, 1, WAVE_LENGTH)


@pytest.fixture
def silent_when_untrained(monkeypatch):
    """The "untrained generator" the pitch metrics build: silence."""
    monkeypatch.setattr(multigan.registry, "build", lambda name, **config: StandIn(silence, WAVEGAN_LIKE))


def test_the_trivial_references_are_what_they_say():
    x = sines(16, WAVE_RATE, WAVE_LENGTH, 0.2)
    assert x.shape == (16, 1, WAVE_LENGTH)
    assert x.square().mean(dim=(1, 2)).sqrt().tolist() == pytest.approx([0.2] * 16, rel=0.01)
    peak_hz = torch.fft.rfft(x[:, 0].double()).abs().argmax(1) * WAVE_RATE / WAVE_LENGTH
    expected = torch.tensor([midi_to_hz(PITCHES[i % 8]) for i in range(16)], dtype=torch.float64)
    assert (peak_hz - expected).abs().max() <= WAVE_RATE / WAVE_LENGTH   # within one FFT bin
    assert torch.equal(x[0], x[8]) and not torch.equal(x[0], x[1])
    head, tail = (part.square().mean(dim=(1, 2)).sqrt().tolist() for part in (x[..., :1000], x[..., -1000:]))
    assert head == pytest.approx(tail, rel=0.02)     # constant: no envelope

    noise = white_noise(4, 8000, torch.tensor([0.1, 0.2, 0.3, 0.0]), seed=5)
    assert noise.square().mean(dim=(1, 2)).sqrt()[:3].tolist() == pytest.approx([0.1, 0.2, 0.3], rel=0.03)
    assert torch.equal(noise[3], torch.zeros(1, 8000))
    assert torch.equal(noise, white_noise(4, 8000, torch.tensor([0.1, 0.2, 0.3, 0.0]), seed=5))
    assert (metrics.level_db(0.5 * noise[:3]) - metrics.level_db(noise[:3])).tolist() == pytest.approx(
        [-6.0206] * 3, abs=1e-3)


@pytest.fixture(scope="module")
def replayed():
    """evaluate_pitch of replayed training notes, 128 samples."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multigan.registry, "build", lambda name, **config: StandIn(silence, WAVEGAN_LIKE))
        return evaluate_pitch(StandIn(replay_training_notes, WAVEGAN_LIKE), None, n_samples=128)


def test_pitch_metrics_rank_real_notes_above_sines_and_noise(replayed):
    result = replayed
    assert set(result) == PITCH_METRICS | {"n_samples", "references"} and result["n_samples"] == 128
    refs = result["references"]
    assert list(refs) == ["real", "sines", "noise", "untrained"]
    assert all(set(ref) == PITCH_METRICS for ref in refs.values())
    # the real reference is other held-out notes, not the very notes compared with (which give 0)
    assert refs["real"]["fd"] > 1 and refs["real"]["fd_mel"] > 0.1
    for real in (result, refs["real"]):     # replayed training notes, and real held-out notes
        for trivial in ("sines", "noise", "untrained"):
            assert real["fd"] < 0.25 * refs[trivial]["fd"], (trivial, result)
            assert real["fd_mel"] < 0.25 * refs[trivial]["fd_mel"], (trivial, result)
        for trivial in ("noise", "untrained"):    # noise and silence: no pitch heard
            assert real["score"] > 6 > 1.5 > refs[trivial]["score"], (trivial, result)
            assert real["pitch_kl"] < 0.3 < 2 < refs[trivial]["pitch_kl"], (trivial, result)
    # the sines are clear, balanced pitches: the pitch-only metrics cannot tell them from notes
    # (why fd and fd_mel are there)
    assert refs["sines"]["score"] > 0.9 * refs["real"]["score"] and refs["sines"]["pitch_kl"] < 0.3, result


def test_fd_mel_hears_a_noise_floor_the_pitch_classifier_ignores(replayed, silent_when_untrained):
    """The classifier was trained to name pitches through noise: a noise floor 40 dB under each
    note hardly moves ``fd``, while the log-mel statistics see it in every band between the
    harmonics."""
    clean = replayed
    floored = evaluate_pitch(StandIn(lambda n, seed, cond: replay_training_notes(n, seed, cond, snr_db=40),
                                     WAVEGAN_LIKE), None, n_samples=128)
    assert floored["fd"] < 1.2 * clean["fd"], (clean, floored)
    assert floored["fd_mel"] > 2 * clean["fd_mel"], (clean, floored)
    assert floored["references"] == clean["references"]    # the references do not depend on the model


def test_mel_statistics_front_end():
    for rate, n_fft, bands in ((4000, 256, 64), (16000, 1024, 64), (22050, 1024, 64), (2000, 128, 32)):
        config = metrics.statistics_mel_config(rate)
        assert (config.n_fft, config.hop_length, config.n_mels) == (n_fft, n_fft // 4, bands)
    front = MelSpectrogram(metrics.statistics_mel_config(WAVE_RATE))
    tone = sines(1, WAVE_RATE, WAVE_LENGTH, 0.2)
    stats = metrics.mel_statistics(front, torch.cat([tone, tone * torch.linspace(0, 1, WAVE_LENGTH)]))
    assert stats.shape == (2, 128)
    # in the tone's loudest band, a constant tone does not change over time; a swelling one does
    band = 64 + int(stats[0, :64].argmax())
    assert stats[0, band] < 0.05 < 0.3 < stats[1, band]
    # what lies more than STATS_RANGE_DB (70 dB) below the loudest bin counts as silence: a hiss
    # 80 dB under the tone leaves the statistics as they were, one 30 dB under it does not
    hiss = torch.randn(tone.shape, generator=torch.Generator().manual_seed(0)) * 0.2
    clean = metrics.mel_statistics(front, tone)
    assert (metrics.mel_statistics(front, tone + hiss * 1e-4) - clean).abs().max() < 1e-3
    assert (metrics.mel_statistics(front, tone + hiss * 10 ** (-30 / 20)) - clean).abs().max() > 0.5


def test_samples_are_drawn_in_seeded_chunks(silent_when_untrained, monkeypatch):
    seeds = []

    def record(n, seed, cond):
        seeds.append((n, seed))
        return torch.zeros(n, 1, WAVE_LENGTH)

    monkeypatch.setattr(metrics, "CHUNK", 4)
    evaluate_pitch(StandIn(record, WAVEGAN_LIKE), None, n_samples=10, seed=3)
    assert seeds == [(4, 3), (4, 7), (2, 11)]


def test_pitch_metrics_need_the_notes_dataset():
    with pytest.raises(ConfigError, match="notes"):
        evaluate_pitch(StandIn(replay_training_notes, WAVEGAN_LIKE), "/some/folder")


# -- vocoders: evaluate_vocoder ------------------------------------------------------------------
# at the MelGAN notes recipe's mel (22,050 Hz) and 4,096 samples

VOCODER_METRICS = {"mel_l1", "stft_distance", "loudness_error_db", "pitch_accuracy"}
# the speech metrics and their counts (tests/test_vocoder_metrics.py tests them); a metric that
# cannot be computed adds a "<metric>_reason", as PESQ and STOI do at these 4,096-sample clips
SPEECH_KEYS = {"pesq", "stoi", "f0_rmse", "vuv_f1", "pesq_clips", "stoi_clips", "f0_frames"}
VOCODER_LENGTH = 4096


def keys(row):
    """A result row's keys, less the reasons."""
    return {k for k in row if not k.endswith("_reason")}


def scores(row):
    """A result row's scores: all but the sample count and the references."""
    return {k: v for k, v in row.items() if k not in ("n_samples", "references")}


@dataclasses.dataclass
class VocoderConfig:
    mel: MelConfig = dataclasses.field(default_factory=MelConfig)
    segment_length: int = VOCODER_LENGTH


def held_out_notes(n):
    return notes("test", MelConfig().sample_rate, VOCODER_LENGTH, size=n)


def oracle_vocoder(n_notes, gain=1.0):
    """Returns the real test note whose mel is the one asked for (times ``gain``): with gain 1,
    a perfect vocoder."""
    config = VocoderConfig()
    wavs = torch.stack(list(held_out_notes(n_notes)))
    mels = MelSpectrogram(config.mel)(wavs)

    def vocode(n, seed, cond):
        return gain * wavs[torch.cdist(cond.flatten(1), mels.flatten(1)).argmin(1)]
    return StandIn(vocode, config)


@pytest.fixture
def quiet_noise_when_untrained(monkeypatch):
    """The "untrained vocoder" the vocoder metrics build: noise 50 dB below the notes."""
    built = []

    def build(name, **config):
        built.append((name, config))
        return StandIn(lambda n, seed, cond: 1e-3 * torch.randn(len(cond), 1, VOCODER_LENGTH,
                                                                generator=torch.Generator().manual_seed(seed)),
                       VocoderConfig())

    monkeypatch.setattr(multigan.registry, "build", build)
    return built


@pytest.fixture(scope="module")
def oracle_result():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multigan.registry, "build", lambda name, **config: StandIn(
            lambda n, seed, cond: 1e-3 * torch.randn(len(cond), 1, VOCODER_LENGTH), VocoderConfig()))
        return evaluate_vocoder(oracle_vocoder(64), None, n_samples=64)


def test_an_oracle_vocoder_beats_every_reference(oracle_result):
    result, refs = oracle_result, oracle_result["references"]
    assert keys(result) == VOCODER_METRICS | SPEECH_KEYS | {"n_samples", "references"} and result["n_samples"] == 64
    assert list(refs) == ["griffin_lim", "wrong_mel", "noise", "untrained"]
    assert all(keys(ref) == VOCODER_METRICS | SPEECH_KEYS for ref in refs.values())
    assert result["mel_l1"] == pytest.approx(0, abs=1e-6) and result["stft_distance"] == pytest.approx(0, abs=1e-6)
    assert result["loudness_error_db"] == pytest.approx(0, abs=1e-6) and result["pitch_accuracy"] == 1.0
    for name in ("griffin_lim", "wrong_mel", "noise", "untrained"):
        assert refs[name]["mel_l1"] > 0.1 and refs[name]["stft_distance"] > 0.5, (name, refs)
    # Griffin-Lim, with no training, is the closest reference: the right pitch, about the right level
    assert refs["griffin_lim"]["mel_l1"] < 0.5 * refs["wrong_mel"]["mel_l1"], refs
    assert refs["griffin_lim"]["pitch_accuracy"] > 0.9 and abs(refs["griffin_lim"]["loudness_error_db"]) < 2, refs
    # white noise has the real clips' loudness and nothing else of them
    assert abs(refs["noise"]["loudness_error_db"]) < 0.5 and refs["noise"]["mel_l1"] > 1, refs
    # a near-silent untrained vocoder: its mel L1 is not far off, its loudness error tells
    assert refs["untrained"]["loudness_error_db"] < -40, refs


def test_a_wrong_mel_is_heard_at_the_pitch_of_the_mel_it_was_given(oracle_result):
    """The oracle fed clip i + 1's mel makes clip i + 1: right only where the two share a pitch,
    which a random pairing gives about one time in eight."""
    labels = held_out_notes(64).labels
    chance = float((labels.roll(-1) == labels).float().mean())
    assert 0.02 < chance < 0.3
    assert oracle_result["references"]["wrong_mel"]["pitch_accuracy"] == pytest.approx(chance, abs=2 / 64)


def test_a_vocoder_that_ignores_its_input_is_its_own_wrong_mel(quiet_noise_when_untrained):
    fixed_note = held_out_notes(1000)[999]   # a note of the test split outside the 32 compared with
    label = int(held_out_notes(1000).labels[999])
    fixed = evaluate_vocoder(StandIn(lambda n, seed, cond: fixed_note.expand(len(cond), 1, -1).clone(),
                                     VocoderConfig()), None, n_samples=32)
    refs = fixed["references"]
    assert scores(fixed) == refs["wrong_mel"]
    # far behind the oracle (0) and behind Griffin-Lim; right only where the note has its pitch
    assert fixed["mel_l1"] > 2 * refs["griffin_lim"]["mel_l1"]
    assert fixed["stft_distance"] > refs["griffin_lim"]["stft_distance"]
    same_pitch = float((held_out_notes(32).labels == label).float().mean())
    assert fixed["pitch_accuracy"] == pytest.approx(same_pitch, abs=1 / 32)

    def noise(n, seed, cond):
        return 0.1 * torch.randn(len(cond), 1, VOCODER_LENGTH, generator=torch.Generator().manual_seed(seed))
    noisy = evaluate_vocoder(StandIn(noise, VocoderConfig()), None, n_samples=32)
    assert noisy["mel_l1"] > 1 and noisy["pitch_accuracy"] < 0.5
    assert scores(noisy) == noisy["references"]["wrong_mel"]


def test_a_quieter_copy_reads_its_loudness_error(quiet_noise_when_untrained):
    half = evaluate_vocoder(oracle_vocoder(32, gain=0.5), None, n_samples=32)
    assert half["loudness_error_db"] == pytest.approx(-6.02, abs=0.01)
    assert half["mel_l1"] == pytest.approx(math.log10(2), abs=1e-3)   # every band 6 dB down
    assert half["pitch_accuracy"] == 1.0
    loud = evaluate_vocoder(oracle_vocoder(32, gain=1.1), None, n_samples=32)
    assert loud["loudness_error_db"] == pytest.approx(20 * math.log10(1.1), abs=0.01)
    assert quiet_noise_when_untrained == [("stand-in", dataclasses.asdict(VocoderConfig()))] * 2


def test_griffin_lim_inverts_the_front_ends_mel_in_place():
    """Griffin-Lim's frames are centred half a hop before the front end's: the inverted audio
    is read so that a burst comes back where it was (half a hop off would be 128 samples)."""
    config = MelConfig()
    front = MelSpectrogram(config)
    wavs = torch.stack(list(held_out_notes(8)))
    mels = front(wavs)
    out = griffin_lim(mels, config, seed=1)
    assert out.shape == wavs.shape
    assert torch.equal(out, griffin_lim(mels, config, seed=1)) and not torch.equal(out, griffin_lim(mels, config))
    assert float((front(out) - mels).abs().mean()) < 0.3

    g = torch.Generator().manual_seed(0)
    bursts, where = 1e-4 * torch.randn(4, 1, VOCODER_LENGTH, generator=g), torch.tensor([1000, 2000, 2500, 3100])
    for burst, at in zip(bursts, where):
        burst[0, at - 100:at + 100] += 0.5 * torch.randn(200, generator=g) * torch.hann_window(200)
    energy = griffin_lim(front(bursts), config)[:, 0].square()
    centroid = (energy * torch.arange(VOCODER_LENGTH)).sum(1) / energy.sum(1)
    assert (centroid - where).abs().max() < 20, centroid


def test_vocoder_metrics_on_a_folder(tmp_path, monkeypatch):
    for k in range(3):
        t = torch.arange(30000) / 22050
        sf.write(tmp_path / f"{k}.wav", (0.3 * torch.sin(2 * torch.pi * (200 + 100 * k) * t)).numpy(), 22050)
    monkeypatch.setattr(multigan.registry, "build", lambda name, **config: StandIn(
        lambda n, seed, cond: torch.zeros(len(cond), 1, VOCODER_LENGTH), VocoderConfig()))
    echo = StandIn(lambda n, seed, cond: torch.zeros(len(cond), 1, VOCODER_LENGTH), VocoderConfig())
    result = evaluate_vocoder(echo, str(tmp_path), n_samples=5)
    assert result["n_samples"] == 3     # the folder has three files
    no_labels = {"mel_l1", "stft_distance", "loudness_error_db", "n_samples", "references"}
    assert keys(result) == no_labels | SPEECH_KEYS
    assert result["mel_l1"] == pytest.approx(result["references"]["untrained"]["mel_l1"])
    assert result["loudness_error_db"] == pytest.approx(-100 - 20 * math.log10(0.95 / math.sqrt(2)), abs=0.1)


def test_vocoder_metrics_with_melgan():
    gan = multigan.build("melgan", segment_length=VOCODER_LENGTH, g_width=4, d_width=4, num_d=1)
    result = evaluate_vocoder(gan, None, n_samples=2)
    assert result["n_samples"] == 2
    for values in (result, *result["references"].values()):
        assert keys(values) - {"n_samples", "references"} == VOCODER_METRICS | SPEECH_KEYS
        assert all(math.isfinite(values[key]) for key in VOCODER_METRICS)
    assert result["mel_l1"] > 0 and result["stft_distance"] > 0
