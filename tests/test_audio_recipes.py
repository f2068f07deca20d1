"""The audio recipes run end to end (at a tiny scale) on local folders laid out like SC09 and
LJSpeech, made here."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

RECIPES = Path(__file__).parents[1] / "recipes"


def load(name):
    spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tones(folder, count, rate, seconds):
    t = np.arange(int(rate * seconds)) / rate
    for i in range(count):
        sf.write(folder / f"{i:03d}.wav", 0.5 * np.sin(2 * np.pi * (200 + 20 * i) * t), rate)


def test_wavegan_sc09_recipe_on_an_sc09_layout(tmp_path):
    root = tmp_path / "sc09" / "train"
    for word in ("zero", "one"):
        (root / word).mkdir(parents=True)
        tones(root / word, 32, 16000, 0.25)
    samples = load("wavegan_sc09").main(str(root), tmp_path / "run", scale=1e-9,
                                        overrides={"model_size": 2, "n_critic": 1}, progress=False)
    assert sorted(p.suffix for p in samples.iterdir()) == [".png"] * 8 + [".wav"] * 8


def test_melgan_ljspeech_recipe_on_an_ljspeech_layout(tmp_path):
    wavs = tmp_path / "LJSpeech-1.1" / "wavs"
    wavs.mkdir(parents=True)
    tones(wavs, 16, 22050, 0.5)
    metrics = load("melgan_ljspeech").main(str(wavs), tmp_path / "run", scale=1e-9, n_samples=2, progress=False,
                                           overrides={"g_width": 4, "d_width": 4, "num_d": 1})
    assert {"stft_distance", "mel_l1", "loudness_error_db", "references"} <= set(metrics)
    assert "pitch_accuracy" not in metrics                  # a folder has no pitch labels
    assert set(metrics["references"]) == {"griffin_lim", "wrong_mel", "noise", "untrained"}
    assert (tmp_path / "run" / "eval.json").is_file()


def test_hifigan_ljspeech_recipe_on_an_ljspeech_layout(tmp_path):
    wavs = tmp_path / "LJSpeech-1.1" / "wavs"
    wavs.mkdir(parents=True)
    tones(wavs, 16, 22050, 0.5)
    small = {"version": "v3", "initial_channels": 16, "mpd_width": 4, "msd_width": 16, "msd_scales": 1}
    metrics = load("hifigan_ljspeech").main(str(wavs), tmp_path / "run", scale=1e-9, n_samples=2, progress=False,
                                            overrides=small)
    assert {"pesq", "f0_rmse", "vuv_f1", "mel_l1", "train_seconds", "references"} <= set(metrics)
    assert set(metrics["references"]) == {"griffin_lim", "wrong_mel", "noise", "untrained"}
    assert (tmp_path / "run" / "samples").is_dir() and (tmp_path / "run" / "eval.json").is_file()


def test_melgan_speech_recipe_sets_itself_beside_the_hifigan_run(tmp_path, capsys):
    hifigan = tmp_path / "hifigan"
    hifigan.mkdir()
    (hifigan / "config.json").write_text(json.dumps({"name": "hifigan", "config": {"mel": {"log_base": "e"}}}))
    (hifigan / "eval.json").write_text(json.dumps({"pesq": 1.5, "stoi": 0.8, "f0_rmse": 50.0, "vuv_f1": 0.9,
                                                   "mel_l1": 0.5, "stft_distance": 2.0, "loudness_error_db": -1.0,
                                                   "train_seconds": 120.0}))
    small = {"g_width": 4, "d_width": 4, "num_d": 1, "stft_warmup_steps": 1}
    module = load("melgan_speech")
    metrics = module.main(tmp_path / "run", scale=1e-9, n_samples=2, progress=False, overrides=small, against=hifigan)
    assert {"pesq", "stoi", "f0_rmse", "vuv_f1", "train_seconds"} <= set(metrics)
    out = capsys.readouterr().out
    assert "beside HiFi-GAN" in out and "HiFi-GAN's pesq 1.500 >" in out
    # MelGAN's log10 mel L1 is put in natural-log units for the comparison
    table = module.comparison(metrics, "10", json.loads((hifigan / "eval.json").read_text()), "e")
    assert table["melgan"]["mel_l1_ln"] == pytest.approx(metrics["mel_l1"] * math.log(10))
    assert table["hifigan"]["mel_l1_ln"] == 0.5 and table["hifigan"]["train_minutes"] == 2.0
