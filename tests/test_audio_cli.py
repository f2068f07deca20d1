"""The audio families through the command line: train on notes, write WAV and PNG, resynthesise."""

import json

import soundfile as sf
import torch

from multigan.cli import main


def test_wavegan_trains_on_notes_and_writes_wav_and_png(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "wavegan", "--steps", "1", "--batch-size", "2", "--out", str(run), "--no-progress",
                 "--set", "model_size=2", "--set", "n_critic=1"]) == 0
    samples = sorted(p.name for p in (run / "samples").iterdir())
    assert "step-000001-000.wav" in samples and "step-000001-000.png" in samples
    data, rate = sf.read(run / "samples" / "step-000001-000.wav")
    assert rate == 16000 and data.shape == (16384,)
    assert json.loads((run / "config.json").read_text())["train"]["data"] is None  # notes, the default


def test_melgan_resynthesises_a_file(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "melgan", "--steps", "1", "--batch-size", "2", "--out", str(run), "--no-progress",
                 "--set", "g_width=4", "--set", "d_width=4", "--set", "num_d=1"]) == 0
    t = torch.arange(44100) / 44100
    sf.write(tmp_path / "in.wav", (0.5 * torch.sin(2 * torch.pi * 440 * t)).numpy(), 44100)
    capsys.readouterr()
    assert main(["sample", str(run), "--cond", str(tmp_path / "in.wav"), "--out", str(tmp_path / "out.wav")]) == 0
    data, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and data.shape == (22050 // 256 * 256,)  # one second at 22.05 kHz, whole hops
    assert (tmp_path / "out.png").is_file()


def test_cond_is_refused_for_an_unconditional_family(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "wavegan", "--steps", "1", "--batch-size", "2", "--out", str(run), "--no-progress",
                 "--set", "model_size=2", "--set", "n_critic=1"]) == 0
    (tmp_path / "in.wav").write_bytes(b"")
    assert main(["sample", str(run), "--cond", str(tmp_path / "in.wav")]) == 2
    assert "--cond is for vocoders" in capsys.readouterr().err
