"""The vocoders' speech metrics (PESQ, STOI, F0 RMSE, V/UV F1) on known cases, their failure
rules, and their place in ``evaluate_vocoder``'s result beside each reference point.

The signals are generated here: speech-like harmonic tones (a fundamental gliding around 110 to
200 Hz, eleven harmonics falling off as 1/k) in syllable-like bursts separated by gaps, over a
faint noise floor. No downloaded data."""

import math
import sys

import pytest
import soundfile as sf
import torch
import torchaudio

import multigan
from multigan.modalities.audio import speech_metrics
from multigan.modalities.audio.metrics import evaluate_vocoder
from multigan.modalities.audio.speech_metrics import KEYS, SpeechMetrics, f0_frame_length

pytest.importorskip("pesq")
pytest.importorskip("pystoi")
pytest.importorskip("librosa")

RATE = 22050
SECOND = RATE          # long enough for PESQ (0.25 s) and STOI (more than 0.4096 s)
COUNTS = {"pesq_clips", "stoi_clips", "f0_frames"}


def speechlike(n: int, length: int = SECOND, cents: float = 0.0, seed: int = 0, rate: int = RATE,
               burst_shift: float = 0.0) -> torch.Tensor:
    """``n`` clips (n, 1, length): a glide of the fundamental (a random base of 110 to 200 Hz, 30%
    up and down at 1.5 to 2.5 Hz), raised by ``cents``, with harmonics 1 to 11, in bursts of
    about 0.2 s (a raised-cosine edge of 20 ms) three times a second, moved later by
    ``burst_shift`` of their period; a noise floor 60 dB down."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64) / rate
    edge = torch.hann_window(int(0.02 * rate), dtype=torch.float64)
    clips = []
    for i in range(n):
        base, rate_hz = 110 + 90 * torch.rand(1, generator=g, dtype=torch.float64), 1.5 + torch.rand(1, generator=g)
        f0 = base * (1 + 0.3 * torch.sin(2 * math.pi * rate_hz * t)) * 2 ** (cents / 1200)
        phase = 2 * math.pi * torch.cumsum(f0, 0) / rate
        tone = sum(torch.sin(k * phase) / k for k in range(1, 12))
        bursts = (torch.sin(2 * math.pi * (3 * t - burst_shift) + i) > -0.3).double()
        envelope = torch.nn.functional.conv1d(bursts[None, None], edge[None, None] / edge.sum(),
                                              padding=len(edge) // 2)[0, 0, :length]
        clips.append(0.2 * tone * envelope + 1e-3 * torch.randn(length, generator=g, dtype=torch.float64))
    return torch.stack(clips).float().unsqueeze(1)


def white_noise_like(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    rms = x.square().mean(dim=(1, 2), keepdim=True).sqrt()
    return torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)) * rms


@pytest.fixture(scope="module")
def real():
    return speechlike(4)


@pytest.fixture(scope="module")
def metrics(real):
    return SpeechMetrics(real, RATE)


# -- known cases ------------------------------------------------------------------------------

def test_identical_audio_scores_perfectly(real, metrics):
    result = metrics(real.clone())
    assert result["pesq"] == pytest.approx(4.644, abs=0.01)      # wideband PESQ's maximum
    assert result["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert result["f0_rmse"] == 0.0 and result["vuv_f1"] == 1.0
    assert result["pesq_clips"] == result["stoi_clips"] == 4
    # pYIN hears the bursts as voiced and the gaps as not: 4 clips of 87 frames (hop 256)
    assert 150 < result["f0_frames"] < 4 * 87
    assert not any(key.endswith("_reason") for key in result)


def test_the_level_does_not_matter(real, metrics):
    """PESQ and STOI align levels and pYIN normalises: a quieter copy scores as the original
    (``loudness_error_db`` is the vocoder metric that sees the level)."""
    result = metrics(0.5 * real)
    assert result["pesq"] == pytest.approx(4.644, abs=0.01) and result["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert result["f0_rmse"] == 0.0 and result["vuv_f1"] == 1.0


def test_noise_scores_badly(real, metrics):
    result = metrics(white_noise_like(real))
    assert result["pesq"] < 1.2          # the floor is about 1.04
    assert result["stoi"] < 0.5
    assert result["vuv_f1"] < 0.5
    # the few frames pYIN calls voiced in noise are at no particular pitch
    assert result["f0_rmse"] is None or result["f0_rmse"] > 300


def test_a_copy_100_cents_higher_reads_100_cents(real, metrics):
    shifted = metrics(speechlike(4, cents=100))
    assert shifted["f0_rmse"] == pytest.approx(100, abs=10)     # pYIN's grid is 10 cents
    assert shifted["vuv_f1"] > 0.95                              # the same bursts, voiced alike
    assert shifted["pesq"] < 3.5 < metrics(real)["pesq"]         # and PESQ hears the difference
    assert metrics(speechlike(4, cents=-300))["f0_rmse"] == pytest.approx(300, abs=15)


def test_a_mistimed_voicing_lowers_vuv_f1_only(real, metrics):
    """The same tones with their bursts a sixth of a period (56 ms) late: the pitch of the frames
    voiced in both stays close (pYIN's estimates move a little at the bursts' new edges), the
    voicing decisions do not."""
    result = metrics(speechlike(4, burst_shift=1 / 6))
    assert result["vuv_f1"] < 0.9 and result["f0_rmse"] < 60


# -- failure rules ----------------------------------------------------------------------------

def test_clips_too_short_for_pesq_or_stoi_say_so():
    """At the notes vocoder's 4,096 samples (0.19 s) neither PESQ nor STOI can be computed; the
    F0 metrics can. The limits are exact: PESQ from 4,000 samples at 16 kHz (5,512 at 22,050 Hz),
    STOI from 4,097 at 10 kHz (above 0.4096 s: 9,032 samples at 22,050 Hz)."""
    short = speechlike(2, 4096)
    result = SpeechMetrics(short, RATE)(short)
    assert result["pesq"] is None and "0.25 s" in result["pesq_reason"] and result["pesq_clips"] == 0
    assert result["stoi"] is None and "0.4096 s" in result["stoi_reason"] and result["stoi_clips"] == 0
    assert result["f0_rmse"] == 0.0 and result["vuv_f1"] == 1.0
    # 9,032 samples of the bursts are long enough, but their gaps leave STOI too few frames
    bursts = speechlike(2, 9032)
    gaps = SpeechMetrics(bursts, RATE)(bursts)
    assert gaps["stoi"] is None and gaps["stoi_clips"] == 0 and "40 dB" in gaps["stoi_reason"]

    for length, pesq_ok, stoi_ok in ((5511, False, False), (5512, True, False), (9031, True, False),
                                     (9032, True, True)):
        # steady noise: every frame counts for STOI (the speech-like bursts' gaps would not)
        clip = 0.1 * torch.randn(1, 1, length, generator=torch.Generator().manual_seed(length))
        got = SpeechMetrics(clip, RATE)(clip)
        assert (got["pesq"] is not None) == pesq_ok, (length, got)
        assert (got["stoi"] is not None) == stoi_ok, (length, got)


def test_a_silent_vocoded_clip(real, metrics):
    """Digital silence: PESQ cannot score it (a reason, not a number, and not a mean over the
    other clips); STOI scores it 0; no frame is voiced, so F1 is 0 and the F0 error undefined."""
    silent = real.clone()
    silent[2] = 0
    result = metrics(silent)
    assert result["pesq"] is None and result["pesq_reason"].startswith("1 of 4 vocoded clips")
    assert "digital silence" in result["pesq_reason"]
    assert result["stoi"] == pytest.approx(0.75, abs=1e-6)     # three perfect clips and a 0
    assert 0 < result["vuv_f1"] < 1 and result["f0_rmse"] == 0.0

    nothing = metrics(torch.zeros_like(real))
    assert nothing["stoi"] == pytest.approx(0.0, abs=1e-9) and nothing["vuv_f1"] == 0.0
    assert nothing["f0_rmse"] is None and "voiced in both" in nothing["f0_rmse_reason"]
    assert nothing["f0_frames"] == 0


def test_real_clips_that_cannot_be_scored_are_left_out_for_every_row(real):
    with_silence = real.clone()
    with_silence[1] = 0
    speech = SpeechMetrics(with_silence, RATE)
    for fake in (with_silence, white_noise_like(with_silence)):
        result = speech(fake)
        assert result["pesq_clips"] == result["stoi_clips"] == 3
        assert result["pesq"] is not None and result["stoi"] is not None
    assert speech(with_silence)["pesq"] == pytest.approx(4.644, abs=0.01)

    nothing = torch.zeros_like(real)
    result = SpeechMetrics(nothing, RATE)(real)
    assert result["pesq"] is None and "none of the real clips" in result["pesq_reason"]
    assert result["stoi"] is None and result["stoi_clips"] == 0 and "none of the real clips" in result["stoi_reason"]
    assert result["f0_rmse"] is None and result["vuv_f1"] == 0.0     # every voiced frame is a false positive
    both_silent = SpeechMetrics(nothing, RATE)(nothing)
    assert both_silent["vuv_f1"] is None and "no frame is voiced" in both_silent["vuv_f1_reason"]


def test_pesq_errors_on_a_real_clip_leave_it_out(real, monkeypatch):
    """PESQ's own errors on a real clip scored against itself ("No utterances detected", which
    in practice only digital silence gives) leave that clip out."""
    import pesq as pesq_package

    original = pesq_package.pesq
    first = torchaudio.functional.resample(real[0, 0].double(), RATE, speech_metrics.PESQ_RATE).numpy()

    def picky(fs, ref, deg, mode):
        if ref.shape == first.shape and abs(ref - first).max() < 1e-9:
            raise pesq_package.NoUtterancesError(b"No utterances detected")
        return original(fs, ref, deg, mode)

    monkeypatch.setattr(pesq_package, "pesq", picky)
    result = SpeechMetrics(real, RATE)(real)
    assert result["pesq_clips"] == 3 and result["pesq"] == pytest.approx(4.644, abs=0.01)


def test_non_finite_vocoded_samples(real, metrics):
    bad = real.clone()
    bad[0, 0, 100] = float("nan")
    result = metrics(bad)
    assert all(result[key] is None and "non-finite" in result[f"{key}_reason"] for key in KEYS)


def test_a_missing_package_is_one_line_naming_the_extra(real, monkeypatch):
    for package in ("pesq", "pystoi", "librosa"):
        monkeypatch.setitem(sys.modules, package, None)     # import raises ImportError
    result = SpeechMetrics(real, RATE)(real)
    for key, package in zip(KEYS, ("pesq", "pystoi", "librosa", "librosa")):
        reason = result[f"{key}_reason"]
        assert result[key] is None and package in reason and 'multigan[speech-metrics]' in reason
        assert "\n" not in reason


def test_mismatched_clips_are_an_error(real, metrics):
    with pytest.raises(ValueError, match="do not match"):
        metrics(real[:, :, :-256])


def test_the_f0_frame_follows_the_sample_rate():
    assert f0_frame_length(22050) == 1024 and f0_frame_length(16000) == 512 and f0_frame_length(44100) == 2048
    at_16k = speechlike(2, 16000, rate=16000)
    result = SpeechMetrics(at_16k, 16000)(speechlike(2, 16000, cents=100, rate=16000))
    assert result["f0_rmse"] == pytest.approx(100, abs=10) and result["pesq_clips"] == 2


def test_the_f0_metrics_take_the_first_clips_only(real):
    clips = torch.cat([real, real])
    changed = clips.clone()
    changed[4:] = speechlike(4, cents=200)    # outside the first four: not seen by F0
    result = SpeechMetrics(clips, RATE, f0_clips=4)(changed)
    assert result["f0_rmse"] == 0.0 and result["pesq"] < 4.0


# -- in evaluate_vocoder, for the model and each reference point --------------------------------

def _tiny(name):
    if name == "melgan":
        return multigan.build("melgan", segment_length=16384, g_width=4, d_width=4, num_d=1)
    return multigan.build("hifigan", version="v3", initial_channels=8, segment_length=16384, mpd_width=4,
                          msd_width=16, msd_scales=1)


@pytest.mark.parametrize("name", ["melgan", "hifigan"])
def test_evaluate_vocoder_reports_them_for_the_model_and_every_reference(name, tmp_path):
    """On a folder of speech-like clips (0.74 s segments: long enough for PESQ and STOI)."""
    for k, clip in enumerate(speechlike(3, 30000, seed=k) for k in range(3)):
        sf.write(tmp_path / f"{k}.wav", clip[0, 0].numpy(), RATE)
    result = evaluate_vocoder(_tiny(name), str(tmp_path), n_samples=3)
    refs = result["references"]
    assert list(refs) == ["griffin_lim", "wrong_mel", "noise", "untrained"]
    for row in (result, *refs.values()):
        assert set(KEYS) | COUNTS <= set(row)
        assert row["pesq_clips"] == row["stoi_clips"] == 3
        for key in KEYS:   # a number, or None with its reason
            assert (row[key] is not None and math.isfinite(row[key])) or row[f"{key}_reason"], (key, row)
        assert row["pesq"] is not None and row["stoi"] is not None
    # Griffin-Lim keeps the pitch and much of the sound; noise keeps neither
    gl, noise = refs["griffin_lim"], refs["noise"]
    assert gl["pesq"] > noise["pesq"] + 0.5 and gl["stoi"] > noise["stoi"]
    assert gl["f0_rmse"] < 50 and gl["vuv_f1"] > 0.9 > noise["vuv_f1"]


def test_evaluate_vocoder_on_short_notes_gives_reasons_for_every_row():
    gan = multigan.build("melgan", segment_length=4096, g_width=4, d_width=4, num_d=1)
    result = evaluate_vocoder(gan, None, n_samples=2)
    for row in (result, *result["references"].values()):
        assert row["pesq"] is None and row["pesq_reason"] and row["stoi"] is None and row["stoi_reason"]
    assert result["references"]["griffin_lim"]["f0_rmse"] < 50


def test_on_the_built_in_speech_the_clips_are_long_enough_for_pesq_and_stoi():
    """A vocoder trained on 8,192-sample segments is scored on 1.5 s crops of the test utterances."""
    gan = multigan.build("melgan", segment_length=8192, g_width=4, d_width=4, num_d=1)
    result = evaluate_vocoder(gan, "speech", n_samples=3)
    assert result["pesq_clips"] == result["stoi_clips"] == 3
    for row in (result, *result["references"].values()):
        assert row["pesq"] is not None and row["stoi"] is not None
    gl = result["references"]["griffin_lim"]
    assert gl["pesq"] > result["references"]["noise"]["pesq"] + 0.5 and gl["f0_rmse"] < 100
