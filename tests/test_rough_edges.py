"""The rough edges a hostile-input run found after wave 1: each is now one clear line on stderr,
exit status 2, and nothing written (or changed) on disk; warnings are one plain line; training
says what it will do before it does it."""

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import multigan
from multigan.cli import main
from multigan.errors import UnknownModelError, warn

ROOT = Path(__file__).parents[1]
TINY = ["--set", "g_width=4", "--set", "d_width=4", "--set", "latent_dim=8"]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("multigan: error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


@pytest.fixture(scope="module")
def run_at_step_2(tmp_path_factory):
    out = tmp_path_factory.mktemp("edges") / "run"
    assert main(["train", "dcgan", "--steps", "2", "--batch-size", "4", "--out", str(out), "--no-progress",
                 "--precision", "32", *TINY]) == 0
    return out


def test_cuda_device_without_cuda(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)   # a machine without CUDA, on any machine
    out = tmp_path / "run"
    assert main(["train", "dcgan", "--device", "cuda", "--out", str(out), "--no-progress"]) == 2
    assert "CUDA is not available" in one_error_line(capsys)
    assert not out.exists()


def test_unknown_device(tmp_path, capsys):
    assert main(["train", "dcgan", "--device", "gpu0", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert "'gpu0' is not a device" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_export_under_a_file(run_at_step_2, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert main(["export", str(run_at_step_2), "--out", str(afile / "g.safetensors")]) == 2
    assert "'" + str(afile) + "' is a file, not a folder" in one_error_line(capsys)
    assert afile.read_text() == "not a folder" and sorted(tmp_path.iterdir()) == [afile]


def test_export_to_a_folder(run_at_step_2, tmp_path, capsys):
    folder = tmp_path / "x.safetensors"
    folder.mkdir()
    assert main(["export", str(run_at_step_2), "--out", str(folder)]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("section, key", [("train", "learning_rate"), ("config", "lr"), (None, "extra")])
def test_unknown_key_in_a_config_file(run_at_step_2, tmp_path, capsys, section, key):
    record = json.loads((run_at_step_2 / "config.json").read_text())
    (record if section is None else record[section])[key] = 1
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record))
    out = tmp_path / "repeat"
    assert main(["train", "--config", str(path), "--out", str(out), "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert repr(key) in line and ("batch_size" in line or "lr_g" in line or "train" in line), line
    assert not out.exists()


def test_fewer_steps_than_the_run_has_taken(run_at_step_2, tmp_path, capsys):
    before = snapshot(run_at_step_2)
    assert main(["train", "dcgan", "--steps", "1", "--batch-size", "4", "--out", str(run_at_step_2),
                 "--no-progress", "--precision", "32", *TINY]) == 2
    line = one_error_line(capsys)
    assert "already at step 2" in line and "max_steps >= 2" in line
    assert snapshot(run_at_step_2) == before    # config.json (max_steps: 2) and everything else untouched


@pytest.mark.parametrize("n", ["0", "-1"])
def test_sample_count_below_one(run_at_step_2, tmp_path, capsys, n):
    before = snapshot(run_at_step_2)
    out = tmp_path / "grid.png"
    assert main(["sample", str(run_at_step_2), "--n", n, "--out", str(out)]) == 2
    assert f"--n {n}: the number of samples must be 1 or more" in one_error_line(capsys)
    assert not out.exists() and snapshot(run_at_step_2) == before


def test_warnings_are_one_plain_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("skipping image file 'x.png': cannot identify image file")
    (w,) = caught
    text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
    assert text == "multigan: warning: skipping image file 'x.png': cannot identify image file\n"
    assert issubclass(w.category, UserWarning)   # filterable like any other


def test_a_skipped_file_warns_in_one_line_from_the_command_line(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(8):
        Image.new("L", (32, 32), color=i * 30).save(folder / f"{i}.png")
    (folder / "bad.png").write_text("not a picture")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "multigan", "train", "dcgan", "--data", str(folder), "--steps", "1",
                           "--batch-size", "4", "--skip-bad-files", "--out", str(tmp_path / "run"), "--no-progress",
                           "--set", "image_size=32", "--set", "channels=1", *TINY],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "bad.png" in line]
    assert warned == [f"multigan: warning: skipping unreadable image file {str(folder / 'bad.png')!r}: "
                      + warned[0].split(": ", 3)[-1]], done.stderr
    assert "UserWarning" not in done.stderr and "warn(" not in done.stderr


def test_a_run_of_a_missing_plugin_says_so(run_at_step_2, tmp_path, capsys):
    record = json.loads((run_at_step_2 / "config.json").read_text())
    record["name"] = "ghostgan"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "plugin" in one_error_line(capsys)
    state = multigan.runs.load_state(run_at_step_2 / "checkpoints" / "last.pt")
    with pytest.raises(UnknownModelError, match="'ghostgan'.*is the plugin package that provides 'ghostgan' installed"):
        multigan.runs.gan_from_state({**state, "name": "ghostgan"})
    with pytest.raises(UnknownModelError, match="entry-point group 'multigan.plugins'"):
        multigan.build("ghostgan")


def test_training_says_what_it_will_do(tmp_path, capsys):
    """SeqGAN pre-trains for thousands of steps before its first adversarial one: said first."""
    lines = tmp_path / "corpus.txt"
    lines.write_text("".join(f"line {i} of a small corpus with words {i % 7} and {i % 5}\n" for i in range(400)))
    torch.manual_seed(0)
    gan = multigan.build("seqgan", max_len=8, vocab_size=60, g_embed_dim=4, g_hidden_dim=4, d_embed_dim=4,
                         d_filter_sizes=(1, 2), d_num_filters=(2, 2), pretrain_g_epochs=2, pretrain_d_rounds=1,
                         rollouts=2, n_critic=1)
    trainer = multigan.Trainer(gan, data=str(lines), out_dir=tmp_path / "run", max_steps=3, batch_size=8,
                               progress=False)
    trainer.setup()
    err = capsys.readouterr().err
    per_epoch = trainer.stream.batches_per_epoch
    assert f"multigan: phase mle: {2 * per_epoch} steps of G by maximum likelihood, 2 epochs" in err
    # a D epoch is twice the data's batches, each half real (the reference's mixed batches)
    assert f"multigan: phase d_pretrain: {6 * per_epoch} steps of D on real vs G's samples, 1 x 3 epochs" in err
    assert "multigan: adversarial: 3 steps, each 1 G update then 1 D update (after the phases above)" in err
    assert err.index("phase mle") < err.index("adversarial:")
    assert trainer._phase_label(0) == "seqgan mle" and trainer._phase_label(trainer.total - 1) == "seqgan adversarial"


def test_a_resumed_run_says_so(run_at_step_2, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_at_step_2, run)
    assert main(["train", "dcgan", "--steps", "3", "--batch-size", "4", "--out", str(run), "--no-progress",
                 "--precision", "32", *TINY]) == 0
    assert f"multigan: resuming {run} from step 2" in capsys.readouterr().err
