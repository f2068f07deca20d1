"""Hugging Face-style folders: ``gan.save_pretrained(DIR)``, ``multigan.from_pretrained(DIR)``,
``multigan export RUN --format hf`` and the commands that take such a folder."""

import json
import os
import shutil
import socket
import sys
import types

import pytest
import torch

import multigan
from multigan import ConfigError, DataError
from multigan.cli import main
from multigan.pretrained import CARD, CONFIG, RUN_CONFIG, WEIGHTS, is_pretrained
from multigan.registry import get_modality
from multigan.train.data import first_items

MEL = {"mel.sample_rate": 16000, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16, "mel.n_mels": 8}
TINY = {
    "dcgan": dict(image_size=32, channels=1, g_width=4, d_width=4, latent_dim=8),
    "sngan": dict(image_size=32, channels=1, g_width=8, d_width=8, latent_dim=8, n_critic=1, num_classes=3,
                  label_names=("cat", "dog", "a/b")),
    "wavegan": dict(segment_length=4096, sample_rate=4000, model_size=2),
    "melgan": dict(MEL, upsample_ratios=(4, 4), segment_length=2048, g_width=4, residual_layers=1, num_d=2,
                   d_width=4, d_layers=1),
    "hifigan": dict(MEL, upsample_rates=(4, 4), initial_channels=8, segment_length=256, mpd_periods=(2, 3),
                    mpd_width=2, msd_scales=2, msd_width=16),
    # GPT-2 ties its embedding and output weights; a corpus tokenizer is attached below
    "seqgan": dict(generator="gpt2", vocab_size=28, max_len=6, gpt2_layers=1, gpt2_heads=2, gpt2_width=8,
                   d_filter_sizes=(1, 2), d_num_filters=(4, 4)),
    "relgan": dict(vocab_size=30, max_len=6, g_embed_dim=8, num_heads=2, head_size=8, d_embed_dim=8,
                   d_representations=4, d_filter_sizes=(2, 3), d_num_filters=(8, 8), d_hidden=8,
                   pretrain_g_epochs=0),
}
SMALL = ["--set", "g_width=8", "--set", "d_width=8", "--set", "latent_dim=16", "--set", "ema_decay=0.9"]


def tiny(name):
    torch.manual_seed(0)
    gan = multigan.build(name, **TINY[name])
    with torch.no_grad():   # fresh weights that differ from the initial ones: nothing passes by luck
        for p in gan.generator.parameters():
            p.add_(0.05 * torch.randn_like(p))
    if name == "seqgan":
        from multigan.modalities.text.tokenizer import train_tokenizer

        words = "red green blue cat dog bird sees likes the a".split()
        lines = [" ".join(words[(i * k) % len(words)] for k in range(1, 5)) for i in range(200)]
        gan.tokenizer = train_tokenizer(lines, 28)
    return gan


def draw(gan):
    """Samples that depend on every part of the generator a family samples with."""
    if getattr(gan, "condition", "none") == "mel":
        mel = first_items(get_modality("audio").dataset("notes", gan), 2)[0]
        return gan.sample(seed=1, cond=mel)
    if gan.name == "sngan":
        return gan.sample(seed=1, cond=["dog", "a/b", 0])
    return gan.sample(4, seed=1)


def tree(root):
    """Every path under ``root`` with its size: what a refused command must leave as it was."""
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*"))


def refused(capsys, argv, root, message):
    """``multigan ARGV`` fails with one line naming the problem and changes nothing under ``root``."""
    before = tree(root)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("multigan: error: ") and message in err, err
    assert tree(root) == before


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_family_samples_the_same_after_from_pretrained(name, tmp_path):
    gan = tiny(name)
    expected = draw(gan)
    assert gan.save_pretrained(tmp_path / "model") == tmp_path / "model"
    assert {p.name for p in (tmp_path / "model").iterdir()} >= {CONFIG, WEIGHTS, CARD}
    loaded = multigan.from_pretrained(tmp_path / "model")
    assert (loaded.name, loaded.config) == (name, gan.config) and not loaded.training
    assert torch.equal(draw(loaded), expected)
    assert loaded.provenance is None   # built in Python: nothing known of its training, nothing invented
    card = (tmp_path / "model" / CARD).read_text()
    assert f"| family | `{name}` |" in card and "| training steps | unknown |" in card and "| data | unknown |" in card
    assert "Unknown: this GAN was not loaded from a run folder" in card and not (tmp_path / "model" / RUN_CONFIG).exists()
    if name == "sngan":
        assert loaded.label_names == ("cat", "dog", "a/b") and "| classes | 3: cat, dog, a/b |" in card
    if name == "seqgan":   # tied weights stay tied; the tokenizer travels, in G's state and as its file
        tied = loaded.generator.model
        assert tied.lm_head.weight.data_ptr() == tied.transformer.wte.weight.data_ptr()
        assert loaded.decode(expected) == gan.decode(expected) and any(loaded.decode(expected))
        assert (tmp_path / "model" / "tokenizer.model").read_bytes() == gan.tokenizer.to_bytes()
        assert json.loads((tmp_path / "model" / CONFIG).read_text())["artifacts"] == ["tokenizer.model"]


def test_the_ema_generator_is_what_is_saved(tmp_path):
    gan = tiny("dcgan")
    gan.add_ema()
    with torch.no_grad():
        for p in gan.generator.parameters():   # G moves on; the EMA copy is what sample() uses
            p.add_(1.0)
    gan.save_pretrained(tmp_path / "model")
    loaded = multigan.from_pretrained(tmp_path / "model")
    assert torch.equal(loaded.sample(3, seed=0), gan.sample(3, seed=0)) and loaded.generator_ema is not None
    assert json.loads((tmp_path / "model" / CONFIG).read_text())["weights"] == "generator_ema"
    assert "| weights | the EMA generator |" in (tmp_path / "model" / CARD).read_text()


def test_from_pretrained_needs_no_network(tmp_path, monkeypatch):
    tiny("dcgan").save_pretrained(tmp_path / "model")

    def no_network(*args, **kwargs):
        raise AssertionError("from_pretrained tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    assert multigan.from_pretrained(tmp_path / "model").sample(2, seed=0).shape == (2, 1, 32, 32)


def test_an_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    import multigan.pretrained as pretrained

    written = []

    def fail_on_the_second_file(path, data):
        if written:
            raise KeyboardInterrupt
        written.append(path)
        return real(path, data)

    real = pretrained.write_bytes_atomic
    monkeypatch.setattr(pretrained, "write_bytes_atomic", fail_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        tiny("dcgan").save_pretrained(tmp_path / "model")
    assert written and list(tmp_path.iterdir()) == []


def test_refusals_of_save_pretrained_write_nothing(tmp_path):
    gan = tiny("dcgan")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    (tmp_path / "file").write_text("a file")
    for out, message in ((tmp_path / "full", "exists and is not an empty folder"),
                         (tmp_path / "file", "exists and is not an empty folder"),
                         (tmp_path / "file" / "model", "is a file, not a folder")):
        before = tree(tmp_path)
        with pytest.raises(ConfigError, match=message):
            gan.save_pretrained(out)
        assert tree(tmp_path) == before
    (tmp_path / "empty").mkdir()   # an empty folder may become one
    gan.save_pretrained(tmp_path / "empty")
    assert (tmp_path / "empty" / WEIGHTS).is_file()


# ---------------------------------------------------------------------------- from a trained run
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny DCGAN run (3 steps, an EMA generator), scored by ``multigan eval``, exported with
    ``multigan export RUN --format hf`` (to RUN/pretrained). Tests copy what they change."""
    root = tmp_path_factory.mktemp("pretrained-run")
    folder = root / "run"
    assert main(["train", "dcgan", "--steps", "3", "--batch-size", "8", "--out", str(folder), "--no-progress",
                 "--precision", "32", "--seed", "4", *SMALL]) == 0
    assert main(["eval", str(folder), "--n", "100"]) == 0
    assert main(["export", str(folder), "--format", "hf"]) == 0
    return folder


def test_the_card_of_an_exported_run(run, capsys):
    folder = run / "pretrained"
    card = (folder / CARD).read_text()
    record = json.loads((folder / CONFIG).read_text())
    evaluated = json.loads((run / "eval.json").read_text())
    assert (record["format"], record["version"], record["name"], record["modality"]) == \
        ("multigan-pretrained", 1, "dcgan", "image")
    assert record["provenance"]["step"] == 3 and record["provenance"]["eval"] == evaluated
    assert "library_name: multigan" in card
    assert "| family | `dcgan` |" in card and "| data | `digits` |" in card and "| training steps | 3 |" in card
    assert "batch 8, precision 32, seed 4" in card and f"multigan train --config {RUN_CONFIG}" in card
    assert f"| `fd` | {evaluated['fd']:.4g} | {evaluated['references']['real']['fd']:.4g} |" in card
    assert "| metric | model | real | copy10 | copy100 | untrained |" in card


def test_the_cards_command_trains_the_same_model_again(run, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--config", str(run / "pretrained" / RUN_CONFIG), "--out", str(again)]) == 0
    assert torch.equal(multigan.load(again).sample(4, seed=0),
                       multigan.from_pretrained(run / "pretrained").sample(4, seed=0))


def test_sample_eval_and_augment_take_the_folder(run, tmp_path, capsys):
    folder = shutil.copytree(run / "pretrained", tmp_path / "model")
    assert main(["sample", str(folder), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    # eval scores the folder on the run's data and writes eval.json into it, as into a run folder
    assert main(["eval", str(folder), "--n", "100"]) == 0
    assert json.loads((folder / "eval.json").read_text()) == json.loads((run / "eval.json").read_text())
    assert multigan.load(folder).name == "dcgan"   # eval.json beside it changes nothing
    refused(capsys, ["augment", str(folder), "--per-class", "1", "--out", str(tmp_path / "set")], tmp_path,
            "dcgan is not class-conditional")


def test_a_class_conditional_folder_augments(tmp_path, capsys):
    gan = tiny("sngan")
    gan.save_pretrained(tmp_path / "model")
    assert main(["augment", str(tmp_path / "model"), "--per-class", "2", "--out", str(tmp_path / "set"),
                 "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "set" / "manifest.json").read_text())
    assert manifest["classes"] == ["cat", "dog", "a/b"] and manifest["step"] is None
    assert sorted(p.name for p in (tmp_path / "set" / "dog").iterdir()) == ["000000.png", "000001.png"]


def test_a_stale_eval_is_not_put_on_the_card(run, tmp_path):
    copy = shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("pretrained"))
    last = copy / "checkpoints" / "last.pt"
    os.utime(copy / "eval.json", (last.stat().st_mtime - 60,) * 2)   # scored an earlier last.pt
    gan = multigan.load(copy)
    assert gan.provenance["step"] == 3 and gan.provenance["eval"] is None
    gan.save_pretrained(tmp_path / "first-copy")
    card = (tmp_path / "first-copy" / CARD).read_text()
    assert "No evaluation of this checkpoint was recorded" in card and "| `fd` |" not in card
    # a folder saved again keeps what its GAN knows
    multigan.from_pretrained(tmp_path / "first-copy").save_pretrained(tmp_path / "second-copy")

    def known(text, folder):   # the card from its table to its Use section, the folder's name left out
        return text[text.index("| | |"):text.index("## Use")].replace(folder, "FOLDER")

    assert known((tmp_path / "second-copy" / CARD).read_text(), "second-copy") == known(card, "first-copy")
    assert (tmp_path / "second-copy" / RUN_CONFIG).read_text() == (tmp_path / "first-copy" / RUN_CONFIG).read_text()


# ---------------------------------------------------------------------------- hostile folders
def broken(run, tmp_path, damage):
    folder = shutil.copytree(run / "pretrained", tmp_path / "model")
    damage(folder)
    return folder


def _set_config(**changes):
    def damage(folder):
        record = json.loads((folder / CONFIG).read_text())
        (folder / CONFIG).write_text(json.dumps({**record, **changes}))
    return damage


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / WEIGHTS).unlink(), "has no model.safetensors"),
    (lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:100]), "model.safetensors' is damaged"),
    (lambda f: (f / CONFIG).unlink(), "has no config.json"),
    (lambda f: (f / CONFIG).write_text('{"format": "multigan-pre'), "config.json' is not readable JSON"),
    (lambda f: shutil.copy(f / RUN_CONFIG, f / CONFIG), "is a training run's config"),
    (_set_config(format="multigan-generator"), "says its format is 'multigan-generator'"),
    (_set_config(version=2), "format version 2; this multigan reads version 1"),
    (_set_config(artifacts=["../config.json"]), "'artifacts' missing or of the wrong type"),
    (_set_config(config={"g_width": 5}), "does not fit the 'dcgan' model"),
    (_set_config(name="ghostgan"), "which is not registered here"),
])
def test_a_damaged_folder_is_one_line_and_nothing_is_written(run, tmp_path, capsys, damage, message):
    folder = broken(run, tmp_path, damage)
    refused(capsys, ["sample", str(folder), "--n", "2"], tmp_path, message)
    with pytest.raises(multigan.MultiganError, match=message):
        multigan.from_pretrained(folder)


def test_a_run_folder_is_not_taken_for_a_pretrained_one(run):
    assert not is_pretrained(run) and is_pretrained(run / "pretrained")
    assert multigan.load(run).provenance["checkpoint"] == str(run / "checkpoints" / "last.pt")
    with pytest.raises(DataError, match="is a training run's config"):
        multigan.from_pretrained(run)


def test_export_refusals_write_nothing(run, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    (tmp_path / "file").write_text("a file")
    for argv, message in (
            (["--format", "hf", "--out", str(tmp_path / "full")], "exists and is not an empty folder"),
            (["--format", "hf", "--out", str(tmp_path / "file" / "model")], "is a file, not a folder"),
            (["--format", "hf"], "exists and is not an empty folder"),   # RUN/pretrained, written by the fixture
            (["--format", "onnx", "--out", str(tmp_path / "g.pt")], "an ONNX graph's file name ends in .onnx"),
            (["--format", "safetensors", "--out", str(tmp_path / "g.onnx")], "ends in .safetensors")):
        refused(capsys, ["export", str(run), *argv], tmp_path, message)
        refused(capsys, ["export", str(run), *argv], run, message)


def test_export_onnx_hands_the_gan_to_export_onnx(run, tmp_path, monkeypatch, capsys):
    calls = []

    def export_onnx(gan, path):
        calls.append((gan.name, path))
        return path

    monkeypatch.setitem(sys.modules, "multigan.onnx_export", types.SimpleNamespace(export_onnx=export_onnx))
    capsys.readouterr()
    assert main(["export", str(run / "pretrained"), "--format", "onnx", "--out", str(tmp_path / "g.onnx")]) == 0
    assert calls == [("dcgan", tmp_path / "g.onnx")]
    assert capsys.readouterr().out.strip() == str(tmp_path / "g.onnx")
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert calls[-1] == ("dcgan", run / "generator.onnx")
