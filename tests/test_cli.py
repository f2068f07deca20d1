import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from multigan.cli import main

SMALL = ["--set", "g_width=8", "--set", "d_width=8", "--set", "latent_dim=16"]


def train(out, *extra):
    return main(["train", "dcgan", "--steps", "3", "--batch-size", "8", "--out", str(out), "--no-progress",
                 "--log-every", "1", *SMALL, *extra])


def test_list(capsys):
    assert main(["list"]) == 0
    assert "dcgan" in capsys.readouterr().out
    assert main(["list", "--modality", "image"]) == 0
    assert capsys.readouterr().out.split() == ["dcgan", "image", "sngan", "image"]


@pytest.mark.parametrize("command", [[str(Path(sys.executable).parent / "multigan")], [sys.executable, "-m", "multigan"]])
def test_console_script_and_module_are_installed(command):
    out = subprocess.run([*command, "list"], capture_output=True, text=True, check=True)
    assert "dcgan" in out.stdout


def test_train_sample_eval(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["config"]["image_size"], config["config"]["channels"]) == (32, 1)  # from digits
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "samples" / "step-000003.png").is_file()
    capsys.readouterr()

    assert main(["sample", str(run), "--n", "9", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file()
    assert main(["sample", str(run / "checkpoints" / "last.pt"), "--n", "4", "--seed", "3"]) == 0
    assert (run / "samples" / "sample-seed3.png").is_file()
    capsys.readouterr()

    assert main(["eval", str(run), "--n", "200"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    assert {"fd", "kid", "recall", "coverage", "memorisation", "class_kl", "references"} <= set(metrics)
    assert set(metrics["references"]) == {"real", "copy10", "copy100", "untrained"}
    assert json.loads((run / "eval.json").read_text()) == metrics


def test_eval_reads_the_runs_data_from_its_checkpoint(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(8):
        Image.new("L", (32, 32), color=i * 30).save(images / f"{i}.png")
    run = tmp_path / "run"
    assert train(run, "--data", str(images), "--set", "channels=1", "--set", "image_size=32") == 0
    capsys.readouterr()
    assert main(["eval", str(run / "checkpoints" / "last.pt")]) == 2
    assert "this run trained on" in capsys.readouterr().err


def test_eval_refuses_options_its_modality_does_not_take_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run) == 0
    capsys.readouterr()
    for flags, message in ((["--temperature", "0.8"], "--temperature does not apply to image models"),
                           (["--features", "clip"], "image features 'clip'"),
                           (["--inception", str(tmp_path / "w.pt")], "--inception applies to --features inception")):
        assert main(["eval", str(run), "--n", "20", *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not (run / "eval.json").exists()


def test_fid_of_a_missing_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "a" / "0.png")
    assert main(["fid", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and len(err.strip().splitlines()) == 1, err


def test_config_json_repeats_a_run(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert train(first, "--set", "loss=hinge", "--seed", "5") == 0
    assert main(["train", "--config", str(first / "config.json"), "--out", str(again), "--no-progress"]) == 0
    strip = lambda path: [{k: v for k, v in json.loads(line).items() if k != "steps_per_s"}  # noqa: E731
                          for line in (path / "metrics.jsonl").read_text().splitlines()]
    assert strip(first) == strip(again) and len(strip(first)) == 3
    repeated = json.loads((again / "config.json").read_text())
    assert repeated["config"]["loss"] == "hinge" and repeated["train"]["seed"] == 5


@pytest.mark.parametrize("recipe", sorted(p.name for p in (Path(__file__).parents[1] / "recipes").glob("*.json")))
def test_every_recipe_config_is_a_run_config(recipe):
    from multigan.cli import _read_run_config
    from multigan import build

    saved = _read_run_config(Path(__file__).parents[1] / "recipes" / recipe)  # "scaled" is allowed
    assert build(saved["name"], **saved["config"]).config is not None


def test_a_recipe_config_trains_from_the_command_line(tmp_path):
    recipe = Path(__file__).parents[1] / "recipes" / "melgan_notes.json"
    assert main(["train", "--config", str(recipe), "--out", str(tmp_path / "run"), "--steps", "1",
                 "--set", "stft_warmup_steps=1", "--no-progress"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["stft_warmup_steps"] == 1


@pytest.mark.parametrize("argv, message", [
    (["train", "dcgna"], "Did you mean 'dcgan'"),
    (["train", "dcgan", "--set", "imagesize=32"], "unknown config key 'imagesize'"),
    (["train", "dcgan", "--set", "lr_g=fast"], "config key 'lr_g': got 'fast', expected a number"),
    (["train", "dcgan", "--steps", "0"], "max_steps must be a whole number >= 1"),
    (["train", "dcgan", "--data", "/no/such/folder"], "'/no/such/folder' is neither"),
    (["train"], "name a model family"),
    (["train", "--config", "/no/such/config.json"], "cannot read run config"),
    (["train", "--config", "runs/dcgan/config.json"], "give the repeat its own --out"),
    (["sample", "/no/such/run"], "does not exist"),
    (["list", "--modality", "imag"], "Did you mean 'image'"),
])
def test_errors_exit_2_with_a_message(tmp_path, capsys, monkeypatch, argv, message):
    if argv[:3] == ["train", "--config", "runs/dcgan/config.json"]:
        (tmp_path / "runs" / "dcgan").mkdir(parents=True)
        (tmp_path / "runs" / "dcgan" / "config.json").write_text('{"name": "dcgan", "config": {}, "train": {}}')
        monkeypatch.chdir(tmp_path)
    elif argv[0] == "train" and "--config" not in argv:
        argv = [*argv, "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("multigan: error:") and message in err


def test_kernels_flag_selects_the_eager_path_and_may_change_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, "--kernels", "eager") == 0
    assert json.loads((run / "config.json").read_text())["train"]["kernels"] == "eager"
    # the same maths computed another way: resuming with the fused path continues the run
    assert main(["train", "dcgan", "--steps", "4", "--batch-size", "8", "--out", str(run), "--no-progress",
                 *SMALL, "--kernels", "auto"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["kernels"] == "auto"
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()][-1] == 4
    capsys.readouterr()
