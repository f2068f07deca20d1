"""The built-in ``speech`` dataset: espeak-ng utterances of a fixed sentence list, split by
sentence, built once and cached; HiFi-GAN's default data."""

import json

import numpy as np
import pytest
import torch

import multigan
from multigan.cli import main
from multigan.errors import ConfigError, DataError
from multigan.modalities.audio import speech as speech_module
from multigan.modalities.audio.speech import (PITCHES, RATES, RENDITIONS, VOICES, held_out_sentences, sentences,
                                              speech, voice_settings)
from multigan.registry import get_modality

FEW = 12   # sentences in the quick builds: 36 utterances, about a second
TINY = {"initial_channels": 16, "mpd_width": 2, "msd_scales": 1, "msd_width": 16, "segment_length": 2048}
TINY_SET = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache folder of this test's own, so it builds instead of reading the session's."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTIGAN_CACHE", str(folder))
    return folder


def test_the_sentences_are_many_and_distinct():
    texts = sentences()
    assert len(texts) == 400 == len(set(texts))
    assert all(t[0].isupper() and t[-1] in ".?!" for t in texts)


def test_each_sentence_has_fixed_distinct_voices_rates_and_pitches():
    for s in range(50):
        settings = voice_settings(s)
        assert settings == voice_settings(s) and len(settings) == RENDITIONS
        assert len({v for v, _, _ in settings}) == RENDITIONS   # another voice each time
        assert all(0 <= v < len(VOICES) and RATES[0] <= r <= RATES[1] and PITCHES[0] <= p <= PITCHES[1]
                   for v, r, p in settings)
    assert voice_settings(0) != voice_settings(0, seed=1)
    assert len({v for s in range(50) for v, _, _ in voice_settings(s)}) == len(VOICES)   # every voice is used


def test_missing_espeak_is_a_data_error_naming_the_package(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(speech_module, "ESPEAK", "espeak-ng-that-is-not-installed")
    with pytest.raises(DataError, match=r"install the Debian/Ubuntu package espeak-ng: apt-get install espeak-ng") \
            as raised:
        speech("train")
    assert "\n" not in str(raised.value)
    gan = multigan.build("hifigan", **TINY)
    with pytest.raises(DataError, match="apt-get install espeak-ng"):
        get_modality("audio").dataset(None, gan)
    # the command line says it in one line
    assert main(["train", "hifigan", "--steps", "1", "--out", str(tmp_path / "run"), "--no-progress", *TINY_SET]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("multigan: error:")]
    assert len(errors) == 1 and "apt-get install espeak-ng" in errors[0]


def test_a_family_declares_its_default_data_and_the_others_keep_the_modalitys():
    audio = get_modality("audio")
    assert audio.default_data == "notes" and {"notes", "speech"} <= set(audio.datasets)
    assert audio.default_source(multigan.build("hifigan", **TINY)) == "speech"
    for name in ("melgan", "wavegan"):
        assert audio.default_source(multigan.build(name)) == "notes"
    unknown = type("Stray", (), {"default_data": "nowhere"})()
    with pytest.raises(ConfigError, match="'nowhere', which is not a built-in audio dataset"):
        audio.default_source(unknown)


def test_the_split_is_by_sentence():
    train, test = speech("train"), speech("test")
    assert (len(train), len(test)) == (1080, 120)
    assert set(train.sentence_ids).isdisjoint(test.sentence_ids)
    assert set(train.sentence_ids) | set(test.sentence_ids) == set(range(400))
    assert sorted(set(test.sentence_ids)) == held_out_sentences(400).tolist()
    for data in (train, test):
        counts = np.bincount(data.sentence_ids, minlength=400)
        assert set(counts[np.unique(data.sentence_ids)]) == {RENDITIONS}
        assert data.texts == [sentences()[s] for s in data.sentence_ids]
    assert 0.6 < train.seconds / 3600 < 0.8 and 200 < test.seconds < 400


def test_two_builds_give_identical_audio(own_cache, monkeypatch, tmp_path):
    first = {split: speech(split, 16000, n_sentences=FEW) for split in ("train", "test")}
    cached = {split: speech(split, 16000, n_sentences=FEW) for split in ("train", "test")}
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path / "another"))
    rebuilt = {split: speech(split, 16000, n_sentences=FEW) for split in ("train", "test")}
    assert first["train"].path.parent == own_cache and rebuilt["train"].path.parent == tmp_path / "another"
    for split in ("train", "test"):
        reference = first[split]._audio.numpy().tobytes()
        assert cached[split]._audio.numpy().tobytes() == reference
        assert rebuilt[split]._audio.numpy().tobytes() == reference
        assert np.array_equal(rebuilt[split]._offsets, first[split]._offsets)
        assert rebuilt[split].voices == first[split].voices


@pytest.mark.parametrize("rate", [22050, 16000])
def test_items_are_float32_segments_of_peak_normalised_speech(own_cache, rate):
    data = speech("train", rate, segment_length=8192, n_sentences=FEW)
    assert data.path.name.startswith(f"speech-{rate}hz-") and data.source == "speech (train)"
    assert len(data) == RENDITIONS * (FEW - len(held_out_sentences(FEW)))
    for i in range(len(data)):
        whole = data.utterance(i)
        assert whole.dtype == torch.float32 and whole.shape[0] == 1
        assert 1.0 <= whole.shape[1] / rate <= 4.0
        assert whole.abs().max().item() == pytest.approx(0.95, abs=1e-4)
        item = data[i]
        assert item.shape == (1, 8192) and item.dtype == torch.float32 and item.abs().max() <= 0.95 + 1e-4
    torch.manual_seed(3)
    a = data[0]
    torch.manual_seed(3)
    assert torch.equal(a, data[0])   # the crop comes from the global torch RNG: a resumed run repeats it
    long = speech("train", rate, segment_length=5 * rate, n_sentences=FEW)
    item, whole = long[0], long.utterance(0)
    assert torch.equal(item[:, :whole.shape[1]], whole) and not item[:, whole.shape[1]:].any()   # zero-padded


def test_the_cache_is_reused_without_espeak_and_a_damaged_one_rebuilt(own_cache, monkeypatch):
    built = speech("train", 16000, n_sentences=FEW)
    assert sorted(p.name.rsplit("-", 1)[1] for p in own_cache.glob("speech-*.npz")) == ["test.npz", "train.npz"]

    def no_synthesis(*args, **kwargs):
        raise AssertionError("espeak-ng was called for a cached corpus")

    monkeypatch.setattr(speech_module, "_synthesise", no_synthesis)
    monkeypatch.setattr(speech_module.subprocess, "run", no_synthesis)
    again = speech("train", 16000, n_sentences=FEW)
    assert torch.equal(again._audio, built._audio)
    monkeypatch.undo()
    monkeypatch.setenv("MULTIGAN_CACHE", str(own_cache))
    built.path.write_bytes(b"not an npz file")
    assert torch.equal(speech("train", 16000, n_sentences=FEW)._audio, built._audio)
    # the key follows what changes the audio
    assert speech("train", 16000, n_sentences=FEW + 1).path != built.path
    assert speech("train", 16000, n_sentences=FEW, seed=1).path != built.path


def test_hifigan_trains_on_speech_by_default_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "hifigan", "--steps", "1", "--batch-size", "2", "--out", str(out), "--no-progress",
                 "--set", "version=v2", *TINY_SET]) == 0
    assert "training hifigan on speech (built-in)" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["train"]["data"] is None
    assert {"step-000001-000.wav", "step-000001-000.png"} <= {p.name for p in (out / "samples").iterdir()}
    assert all(p.stat().st_size > 0 for p in (out / "samples").iterdir())
