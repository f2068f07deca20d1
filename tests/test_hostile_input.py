"""Hostile input, in one place: each bad input raises a named MultiganError subclass whose
message names the problem (or, where documented, is skipped with a warning), and nothing already
on disk is lost. docs/reliability.md tables what each case gives."""

import hashlib
import os
import random
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import multigan
from multigan.cli import main
from multigan.errors import ConfigError, DataError, MultiganError, TrainingError, UnknownModelError
from multigan.modalities.audio.data import AudioFolder, read_audio
from multigan.modalities.image.data import ImageFolder
from multigan.modalities.text.data import load_text_path, text_lines
from multigan.registry import get_modality
from multigan import files, runs

TINY = dict(image_size=32, channels=1, g_width=4, d_width=4, latent_dim=8)
RATE = 16000
TINY_WAVEGAN = dict(model_size=2, n_critic=1, sample_rate=RATE)
TINY_MELGAN = {"mel.sample_rate": RATE, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16,
               "mel.n_mels": 8, "upsample_ratios": (4, 4), "segment_length": 256, "g_width": 2,
               "residual_layers": 1, "num_d": 1, "d_width": 4, "d_layers": 1}
TINY_HIFIGAN = {**{k: v for k, v in TINY_MELGAN.items() if k.startswith("mel.")}, "upsample_rates": (4, 4),
                "initial_channels": 8, "segment_length": 256, "mpd_periods": (2, 3), "mpd_width": 2,
                "msd_scales": 1, "msd_width": 16}
TINY_SEQGAN = dict(max_len=8, g_embed_dim=4, g_hidden_dim=4, d_embed_dim=4, d_filter_sizes=(1, 2),
                   d_num_filters=(2, 2), pretrain_g_epochs=0, pretrain_d_rounds=0, n_critic=1, rollouts=2)
TINY_RELGAN = dict(max_len=8, g_embed_dim=4, head_size=4, d_embed_dim=4, d_representations=2, d_filter_sizes=(1, 2),
                   d_num_filters=(2, 2), d_hidden=4, pretrain_g_epochs=0, n_critic=1)


def tiny_dcgan(**overrides):
    torch.manual_seed(0)
    return multigan.build("dcgan", **{**TINY, **overrides})


def trainer(gan, out, **kw):
    settings = dict(data="digits", out_dir=out, max_steps=2, batch_size=4, sample_every=0,
                    checkpoint_every=0, log_every=1, n_preview=4, progress=False)
    return multigan.Trainer(gan, **{**settings, **kw})


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes: equal snapshots, nothing lost."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A finished two-step dcgan run folder, copied per test by :func:`run_copy`."""
    out = tmp_path_factory.mktemp("dcgan") / "run"
    trainer(tiny_dcgan(), out).fit()
    return out


@pytest.fixture
def run_copy(dcgan_run, tmp_path):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(dcgan_run, out)
    return out


def write_wav(path: Path, samples=None, subtype="PCM_16"):
    if samples is None:
        samples = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(samples, dtype=np.float32), RATE, subtype=subtype)
    return path


def write_png(path: Path):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (12, 12), dtype=np.uint8)).save(path)
    return path


def corpus(path: Path, n=200):
    rng = random.Random(0)
    words = "the cat a dog sees likes follows the river a red house".split()
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(4)) for _ in range(n)) + "\n")
    return path


# ---------------------------------------------------------------------------------- 1. truncated WAV
def test_1_truncated_wav_is_named_or_skipped_with_a_warning(tmp_path):
    good = write_wav(tmp_path / "audio" / "a_good.wav")
    full = write_wav(tmp_path / "full.wav").read_bytes()
    bad = tmp_path / "audio" / "b_cut.wav"
    bad.write_bytes(full[:1000])           # a valid 44-byte header, then 956 of 32,000 data bytes
    with pytest.raises(DataError, match=r"b_cut\.wav' is truncated: its header declares 16000 frames "
                                        r"\(32000 bytes\) of samples but the file holds 478"):
        AudioFolder(tmp_path / "audio", RATE, 1024)
    with pytest.raises(DataError, match=r"b_cut\.wav' is truncated"):
        read_audio(bad, RATE)
    with pytest.warns(UserWarning, match=r"skipping audio file .*b_cut\.wav.*truncated"):
        data = AudioFolder(tmp_path / "audio", RATE, 1024, skip_bad_files=True)
    assert data.files == [good] and bad.read_bytes() == full[:1000]   # skipped, not touched


def test_1_wav_with_unknown_length_header_is_not_called_truncated(tmp_path):
    """Streaming encoders write a data size of 0xFFFFFFFF when they cannot seek back."""
    path = write_wav(tmp_path / "stream.wav")
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data")
    raw[at + 4:at + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    assert read_audio(path, RATE).shape[-1] > 0


# ---------------------------------------------------------------------------------- 2. NaN samples
def test_2_wav_with_nan_samples(tmp_path):
    samples = 0.5 * np.sin(np.arange(RATE) / 10)
    samples[100:200] = np.nan
    bad = write_wav(tmp_path / "audio" / "nan.wav", samples, subtype="FLOAT")
    folder = AudioFolder(tmp_path / "audio", RATE, 1024)   # the header is fine: found when read
    with pytest.raises(DataError, match=r"nan\.wav' contains NaN or infinite samples"):
        folder[0]
    gan = multigan.build("wavegan", **TINY_WAVEGAN)
    out = tmp_path / "run"
    with pytest.raises(DataError, match=r"nan\.wav' contains NaN"):
        multigan.Trainer(gan, data=str(tmp_path / "audio"), out_dir=out, max_steps=1, batch_size=1,
                         n_preview=1, progress=False).fit()
    assert not (out / "checkpoints" / "last.pt").exists()
    write_wav(tmp_path / "audio" / "ok.wav")
    folder = AudioFolder(tmp_path / "audio", RATE, 1024, skip_bad_files=True)
    with pytest.warns(UserWarning, match=r"skipping: .*nan\.wav' contains NaN"):
        assert torch.isfinite(folder[0]).all()          # the next good file stands in
    assert bad.exists()


# ---------------------------------------------------------------------------------- 3. zero-length files
@pytest.mark.parametrize("modality, name, message", [
    ("audio", "empty.wav", r"audio file '.*empty\.wav' cannot be read \(Error opening"),
    ("image", "empty.png", r"image file '.*empty\.png' cannot be read \(cannot identify image file"),
    ("text", "empty.txt", r"text file '.*empty\.txt' has no text"),
])
def test_3_zero_length_file(tmp_path, modality, name, message):
    path = tmp_path / name
    path.write_bytes(b"")
    gan = {"audio": lambda: multigan.build("wavegan", **TINY_WAVEGAN),
           "image": lambda: multigan.build("dcgan", **TINY),
           "text": lambda: multigan.build("seqgan", vocab_size=20, **TINY_SEQGAN)}[modality]()
    source = str(path) if modality == "text" else str(tmp_path)   # audio and image take folders
    with pytest.raises(DataError, match=message):
        get_modality(modality).dataset(source, gan)


# ---------------------------------------------------------------------------------- 4. text in a .png
def test_4_image_file_that_is_really_text(tmp_path):
    write_png(tmp_path / "images" / "a.png")
    fake = tmp_path / "images" / "b.png"
    fake.write_text("this is not a picture\n")
    with pytest.raises(DataError, match=r"image file '.*b\.png' cannot be read \(cannot identify image file.*"
                                        r"pass skip_bad_files=True"):
        ImageFolder(tmp_path / "images", 32, 1)
    with pytest.warns(UserWarning, match=r"skipping unreadable image file '.*b\.png'"):
        assert len(ImageFolder(tmp_path / "images", 32, 1, skip_bad_files=True)) == 1


# ---------------------------------------------------------------------------------- 5. nothing usable
@pytest.mark.parametrize("modality, message", [
    ("image", r"image folder '.*' has no image files \(\.png, \.jpg"),
    ("audio", r"audio folder '.*' has no audio files \(\.wav, \.flac, \.ogg\)"),
    ("text", r"text folder '.*' has no \.txt files"),
])
def test_5_folder_with_no_usable_files(tmp_path, modality, message):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "README.md").write_text("nothing to train on\n")
    gan = {"image": lambda: multigan.build("dcgan", **TINY), "audio": lambda: multigan.build("wavegan", **TINY_WAVEGAN),
           "text": lambda: multigan.build("seqgan", vocab_size=20, **TINY_SEQGAN)}[modality]()
    with pytest.raises(DataError, match=message):
        get_modality(modality).dataset(str(folder), gan)
    with pytest.raises(DataError, match=message):   # through the trainer: before anything is written
        multigan.Trainer(gan, data=str(folder), out_dir=tmp_path / "run", max_steps=1, progress=False).fit()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_5_folder_of_only_bad_files_when_skipping(tmp_path, modality):
    ext = {"image": ".png", "audio": ".wav"}[modality]
    for i in range(2):
        (tmp_path / f"bad{i}{ext}").write_text("garbage")
    loader = {"image": lambda: ImageFolder(tmp_path, 32, 1, skip_bad_files=True),
              "audio": lambda: AudioFolder(tmp_path, RATE, 1024, skip_bad_files=True)}[modality]
    with pytest.warns(UserWarning, match="skipping"), \
            pytest.raises(DataError, match=rf"{modality} folder '.*' has no readable {modality} files"):
        loader()


# ---------------------------------------------------------------------------------- 6. invalid UTF-8
def test_6_text_file_with_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\ncaf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"text file '.*latin1\.txt' is not UTF-8: byte offset 14 \(0xe9\) "
                                        r"cannot be decoded; convert the file to UTF-8"):
        text_lines(path)
    assert path.read_bytes() == "first line\ncaf\u00e9 au lait\n".encode("latin-1")


# ---------------------------------------------------------------------------------- 7. corpus < vocabulary
def test_7_corpus_smaller_than_the_vocabulary(tmp_path):
    path = corpus(tmp_path / "small.txt", n=30)
    with pytest.raises(DataError, match=r"text data '.*small\.txt' is too small for a unigram vocabulary of "
                                        r"vocab_size=5000: pass --set vocab_size=\d+ \(the largest this corpus "
                                        r"allows\) or less, or use a larger corpus"):
        load_text_path(path, 5000, 8, "train")
    with pytest.raises(ConfigError, match=r"vocab_size=5 is too small for text data '.*small\.txt'.*"
                                          r"pass --set vocab_size=\d+ or more"):
        load_text_path(path, 5, 8, "train")


# ---------------------------------------------------------------------------------- 8. typos
def test_8_typo_in_the_model_name_and_in_config_keys(tmp_path, capsys):
    with pytest.raises(UnknownModelError, match=r"unknown model 'dcgna'\. Did you mean 'dcgan'\?"):
        multigan.build("dcgna")
    with pytest.raises(ConfigError, match=r"unknown config key 'imagesize' for DCGANConfig\. "
                                          r"Did you mean 'image_size'.* Valid keys: .*image_size"):
        multigan.build("dcgan", imagesize=32)
    with pytest.raises(ConfigError, match=r"unknown config key 'mel\.nmels' for MelConfig\. Did you mean 'n_mels'"):
        multigan.build("melgan", **{"mel.nmels": 64})
    assert main(["train", "dcgna", "--out", str(tmp_path / "a")]) == 2
    assert main(["train", "dcgan", "--set", "latentdim=8", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'dcgna'. Did you mean 'dcgan'?" in err
    assert "unknown config key 'latentdim' for DCGANConfig. Did you mean 'latent_dim'" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------- 9. wrong types
@pytest.mark.parametrize("key, value, message", [
    ("image_size", "big", "config key 'image_size': got 'big', expected an integer"),
    ("latent_dim", 8.5, "config key 'latent_dim': got 8.5, expected an integer"),
    ("lr_g", "fast", "config key 'lr_g': got 'fast', expected a number"),
    ("ema_decay", True, "config key 'ema_decay': got True, expected a number"),
    ("betas_g", 0.5, r"config key 'betas_g': got 0.5, expected 2 comma-separated values \(a number, a number\)"),
])
def test_9_wrong_type_for_a_config_value(key, value, message):
    with pytest.raises(ConfigError, match=message):
        multigan.build("dcgan", **{key: value})


def test_9_wrong_type_for_a_training_setting(tmp_path):
    with pytest.raises(ConfigError, match="config key 'compile': got 'maybe', expected true or false"):
        trainer(tiny_dcgan(), tmp_path / "run", compile="maybe")


@pytest.mark.parametrize("item, message", [
    ("image_size=big", "config key 'image_size': got 'big', expected an integer"),
    ("latent_dim=8.5", "config key 'latent_dim': got '8.5', expected an integer"),
    ("betas_g=0.5", "config key 'betas_g': got '0.5', expected 2 comma-separated values"),
    ("lr_g", "--set expects key=value, got 'lr_g'"),
])
def test_9_wrong_type_through_cli_set(tmp_path, capsys, item, message):
    assert main(["train", "dcgan", "--set", item, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multigan: error:") and message in err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------- 10. step counts
@pytest.mark.parametrize("steps, message", [(0, "max_steps must be a whole number >= 1, got 0"),
                                            (-3, "max_steps must be a whole number >= 1, got -3"),
                                            (2.5, "config key 'max_steps': got 2.5, expected an integer"),
                                            (True, "config key 'max_steps': got True, expected an integer")])
def test_10_bad_step_count(tmp_path, steps, message):
    with pytest.raises(ConfigError, match=message):
        trainer(tiny_dcgan(), tmp_path / "run", max_steps=steps)


def test_10_negative_steps_for_a_family_with_pretraining_phases(tmp_path):
    gan = multigan.build("seqgan", **{**TINY_SEQGAN, "pretrain_g_epochs": 1})   # 0 runs the phases only
    with pytest.raises(ConfigError, match=r"max_steps must be a whole number >= 0, got -1"):
        multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=-1, progress=False)


@pytest.mark.parametrize("steps", ["0", "-1"])
def test_10_bad_steps_through_the_cli(tmp_path, capsys, steps):
    assert main(["train", "dcgan", "--steps", steps, "--out", str(tmp_path / "run")]) == 2
    assert f"max_steps must be a whole number >= 1, got {steps}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------- 11. batch > dataset
class Tiny(torch.utils.data.Dataset):
    """Ten grey 32x32 images."""
    source = "ten-images"

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return torch.zeros(1, 32, 32)


def test_11_batch_larger_than_the_dataset_is_refused_before_training(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(DataError, match=r"the dataset 'ten-images' has 10 items, fewer than one batch of 16: "
                                        r"lower the batch size"):
        trainer(tiny_dcgan(), out, data=Tiny(), batch_size=16).fit()
    assert not out.exists()
    trainer(tiny_dcgan(), out, data=Tiny(), batch_size=10).fit()   # one full batch per epoch is enough


# ---------------------------------------------------------------------------------- 12. unwritable output
def _no_training(monkeypatch):
    def refuse(self):
        raise AssertionError("training started")
    monkeypatch.setattr(multigan.Trainer, "train_step", refuse)


def test_12_output_folder_under_a_file(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    with pytest.raises(DataError, match=r"output folder '.*file/run' cannot be written: .*Not a directory"):
        trainer(tiny_dcgan(), blocker / "run").fit()
    assert blocker.read_text() == "keep me"


def test_12_output_folder_that_is_a_file(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    target = tmp_path / "run"
    target.write_text("keep me")
    with pytest.raises(DataError, match=r"output folder '.*run' cannot be written"):
        trainer(tiny_dcgan(), target).fit()
    assert target.read_text() == "keep me"


def test_12_output_folder_check_comes_before_tensorboard(tmp_path, monkeypatch):
    """TensorBoard's writer makes its folder as it starts: the writability check must come first,
    or the error would be a bare OSError."""
    class SummaryWriter:
        def __init__(self, log_dir):
            os.makedirs(log_dir, exist_ok=True)

        def close(self):
            pass

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    _no_training(monkeypatch)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot be written"):
        trainer(tiny_dcgan(), blocker / "run").fit()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_12_read_only_output_folder(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DataError, match="cannot be written"):
            trainer(tiny_dcgan(), folder).fit()
    finally:
        folder.chmod(0o700)


# ---------------------------------------------------------------------------------- 13. another family
def test_13_resuming_another_familys_run_is_refused_and_loses_nothing(run_copy, tmp_path, capsys):
    before = snapshot(run_copy)
    wavegan = multigan.build("wavegan", **TINY_WAVEGAN)
    with pytest.raises(ConfigError, match=r"run holds a 'dcgan' run, not 'wavegan'; choose another output folder"):
        multigan.Trainer(wavegan, out_dir=run_copy, max_steps=1, batch_size=1, progress=False).fit()
    assert snapshot(run_copy) == before
    loaded = multigan.load(run_copy)                          # the dcgan is still there, whole
    assert loaded.name == "dcgan" and loaded.sample(2, seed=0).shape == (2, 1, 32, 32)
    assert main(["sample", str(run_copy), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("edit, error, message", [
    (dict(name="wavegan"), DataError,
     r"checkpoint '.*other\.pt' says it holds a 'wavegan' model, but its config does not fit that family: "
     r"unknown config key 'image_size'"),
    (dict(name="nosuchgan"), UnknownModelError,
     r"checkpoint '.*other\.pt' was written by model 'nosuchgan', which is not registered here"),
    (dict(config={**TINY, "g_width": 8}), DataError,
     r"checkpoint '.*other\.pt': its generator state does not fit the 'dcgan' model its config describes "
     r"\(Error\(s\) in loading state_dict for DCGANGenerator"),
    (dict(discriminator=None), DataError,
     r"checkpoint '.*other\.pt': its discriminator state does not fit the 'dcgan' model"),
    (dict(config=None), DataError,
     r"checkpoint '.*other\.pt' has a config that is not a dict: it is not a complete multigan checkpoint"),
])
def test_13_checkpoint_whose_family_does_not_fit_its_contents(dcgan_run, tmp_path, capsys, edit, error, message):
    state = torch.load(dcgan_run / "checkpoints" / "last.pt", weights_only=True)
    if edit.get("config"):
        edit = {"config": {**state["config"], **edit["config"]}}
    path = tmp_path / "other.pt"
    files.save_atomic({**state, **edit}, path)
    before = path.read_bytes()
    with pytest.raises(error, match=message):
        multigan.load(path)
    assert main(["sample", str(path), "--out", str(tmp_path / "x.png")]) == 2
    assert "other.pt" in capsys.readouterr().err
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------- 14. corrupt checkpoint
@pytest.mark.parametrize("damage, why", [
    ("truncated", r"its zip archive is cut short \(\d+ bytes, no end record\): an interrupted copy\?"),
    ("garbage", r"its 4096 bytes are not a file torch.save wrote"),
    ("empty", r"the file is empty \(0 bytes\)"),
])
def test_14_corrupt_checkpoint_is_named_and_kept(run_copy, tmp_path, capsys, damage, why):
    last = run_copy / "checkpoints" / "last.pt"
    good = last.read_bytes()
    bad = {"truncated": good[:len(good) // 2], "garbage": b"\x95" + bytes(range(256)) * 16,
           "empty": b""}[damage][:4096]
    last.unlink()                 # last.pt is a hard link of step-000002.pt: replace, don't write through
    last.write_bytes(bad)
    before = snapshot(run_copy)
    message = (r"checkpoint '.*checkpoints/last\.pt' is corrupt or not a multigan checkpoint "
               r"\(left as it is\): " + why)
    with pytest.raises(DataError, match=message):
        trainer(tiny_dcgan(), run_copy, max_steps=4).fit()          # resuming
    with pytest.raises(DataError, match=message):
        multigan.load(run_copy)
    assert main(["sample", str(run_copy), "--out", str(tmp_path / "x.png")]) == 2
    assert "last.pt' is corrupt" in capsys.readouterr().err
    assert snapshot(run_copy) == before and last.read_bytes() == bad
    assert multigan.load(run_copy / "checkpoints" / "step-000002.pt").name == "dcgan"   # the periodic one


def test_14_checkpoint_that_needs_code_to_unpickle_is_refused(tmp_path):
    """Checkpoints are read with weights_only=True: a pickle that would run code is not opened."""
    path = tmp_path / "evil.pt"
    torch.save({"format": runs.FORMAT, "payload": types.SimpleNamespace(x=1)}, path)
    with pytest.raises(DataError, match=r"evil\.pt' is corrupt or not a multigan checkpoint \(left as it is\): "
                                        r"it holds a types\.SimpleNamespace object, which only pickled code can "
                                        r"rebuild; checkpoints are read with weights_only=True, which runs none"):
        runs.load_state(path)


# ---------------------------------------------------------------------------------- 15. NaN mid-run
@pytest.mark.parametrize("loss, prefix, network", [("discriminator_loss", "d", "discriminator"),
                                                   ("generator_loss", "g", "generator")])
def test_15_loss_turning_non_finite_mid_run(tmp_path, monkeypatch, loss, prefix, network):
    out = tmp_path / "run"
    gan = tiny_dcgan()
    real = getattr(gan, loss)
    calls = {"n": 0}

    def poisoned(batch, step):
        calls["n"] += 1
        losses = real(batch, step)
        if calls["n"] == 3:                         # n_critic = 1: call 3 is step 3
            losses["loss"] = losses["loss"] + float("nan")
        return losses

    monkeypatch.setattr(gan, loss, poisoned)
    with pytest.raises(TrainingError, match=rf"non-finite {prefix} loss nan at step 3 \({network} update\); "
                                            rf"the last good checkpoint is .*last\.pt"):
        trainer(gan, out, max_steps=6, checkpoint_every=2).fit()
    state = runs.load_state(out / "checkpoints" / "last.pt")
    assert state["step"] == 2
    loaded = multigan.load(out)
    assert torch.isfinite(loaded.sample(4, seed=0)).all()
    resumed = trainer(tiny_dcgan(), out, max_steps=6, checkpoint_every=2).fit()   # it goes on from step 2
    assert runs.load_state(out / "checkpoints" / "last.pt")["step"] == 6 and resumed.name == "dcgan"


# ---------------------------------------------------------------------------------- checkpoints: weights_only
def test_every_familys_checkpoint_loads_with_weights_only(tmp_path):
    text = corpus(tmp_path / "corpus.txt")
    runs = {
        "dcgan": (tiny_dcgan(), "digits"),
        "sngan": (multigan.build("sngan", channels=1, latent_dim=8, g_width=8, d_width=8, n_critic=1,
                                 label_names=tuple("abcdefghij")), "digits"),
        "wavegan": (multigan.build("wavegan", **TINY_WAVEGAN), "notes"),
        "melgan": (multigan.build("melgan", **TINY_MELGAN), "notes"),
        "hifigan": (multigan.build("hifigan", **TINY_HIFIGAN), "notes"),
        "seqgan": (multigan.build("seqgan", vocab_size=24, **TINY_SEQGAN), str(text)),
        "relgan": (multigan.build("relgan", vocab_size=24, **TINY_RELGAN), str(text)),
    }
    assert set(runs) == set(multigan.list_models())
    for name, (gan, data) in runs.items():
        out = tmp_path / name
        multigan.Trainer(gan, data=data, out_dir=out, max_steps=1, batch_size=2, n_preview=2,
                         sample_every=0, progress=False).fit()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
        assert state["name"] == name and state["step"] == 1
        loaded = multigan.load(out)
        assert loaded.config == gan.config
        if name in ("melgan", "hifigan"):   # the nested mel config survives as a plain dict
            assert state["config"]["mel"]["hop_length"] == 16 and loaded.config.mel == gan.config.mel
        if name in ("seqgan", "relgan"):   # the tokenizer travels as extra state (a uint8 tensor)
            assert state["generator"]["_extra_state"]["tokenizer"].dtype == torch.uint8
            assert loaded.generator.tokenizer.to_bytes() == gan.generator.tokenizer.to_bytes()


def test_every_error_is_a_multigan_error():
    for cls in (UnknownModelError, ConfigError, DataError, TrainingError):
        assert issubclass(cls, MultiganError)
