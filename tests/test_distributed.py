"""Multi-process training: 2-process gloo runs on the CPU, started by torchrun as users start them.

Every family trains on two processes and ends with the same weights on both; DCGAN with
synchronised BatchNorm matches a one-process run with the same global batch; a checkpoint
written by two processes resumes on one (and the other way round) as if nothing had changed.
"""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import multigan
from multigan.cli import main
from multigan.runs import load_state

WORKER = Path(__file__).with_name("distributed_worker.py")
TINY = {
    "dcgan": dict(image_size=32, channels=1, g_width=4, d_width=4, latent_dim=8),
    "wavegan": dict(model_size=2, n_critic=2, sample_rate=4000, segment_length=4096),
    "melgan": {"mel.sample_rate": 16000, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16,
               "mel.n_mels": 8, "upsample_ratios": (4, 4), "segment_length": 2048, "g_width": 2,
               "residual_layers": 1, "num_d": 2, "d_width": 4, "d_layers": 1, "stft_loss_weight": 1.0},
    # a text corpus keeps SeqGAN's epochs short, so its MLE and D pre-training phases run too
    "seqgan": dict(vocab_size=27, max_len=8, g_embed_dim=4, g_hidden_dim=4, d_embed_dim=4, d_filter_sizes=(1, 2),
                   d_num_filters=(4, 4), pretrain_g_epochs=1, pretrain_d_rounds=1, d_epochs=1, n_critic=2,
                   rollouts=2),
}
SUBJECTS, VERBS, OBJECTS = ["the cat", "a dog", "my neighbour"], ["sees", "likes"], ["the river", "an apple", "a house"]


def torchrun(nproc: int, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node nproc ARGS`` as a user would type it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             f"--nproc_per_node={nproc}", *args],
                            capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def run(tmp_path: Path, tag: str, nproc: int, name: str, config: dict, **train) -> list[dict]:
    """Train on ``nproc`` processes; each rank's final state and facts, in rank order."""
    spec = {"name": name, "config": config, "out_dir": str(tmp_path / tag), "dump": str(tmp_path / f"{tag}-dump"),
            "train": {"sample_every": 0, "log_every": 1, **train}}
    path = tmp_path / f"{tag}.json"
    path.write_text(json.dumps(spec))
    torchrun(nproc, str(WORKER), str(path))
    return [torch.load(tmp_path / f"{tag}-dump" / f"rank-{r}.pt", weights_only=True) for r in range(nproc)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text("\n".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
                              for _ in range(120)) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_family_trains_on_two_processes_into_identical_weights(name, tmp_path, corpus):
    data = {"seqgan": str(corpus)}.get(name)
    ranks = run(tmp_path, "run", 2, name, TINY[name], data=data, max_steps=3, batch_size=8, checkpoint_every=2)
    a, b = ranks[0]["state"], ranks[1]["state"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{name}: {key} differs between the ranks"
    assert [r["local_batch"] for r in ranks] == [4, 4]
    # the process group ended with fit: no gloo thread left to outlive the interpreter (one that
    # frees a tensor during finalisation aborts the process)
    assert [r["gloo_threads_after_fit"] for r in ranks] in ([None, None], [[], []]), ranks[0]["gloo_threads_after_fit"]
    # rank 0 alone wrote the run folder: one record per step, and the checkpoint holds its weights
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, len(steps) + 1))
    assert load_state(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == steps[-1]
    loaded = multigan.load(tmp_path / "run")
    for key, value in loaded.state_dict().items():
        if isinstance(value, torch.Tensor) and key in a:
            assert torch.equal(value, a[key]), key


# float32: N processes are held to one process's result within float32 round-off (in bf16 the
# half batches' rounding differs by more)
DCGAN_RUN = dict(data="digits", batch_size=8, sync_batchnorm=True, precision="32")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """DCGAN, 6 steps of 8 on one process: what every multi-process DCGAN run is held to."""
    tmp = tmp_path_factory.mktemp("one")
    return run(tmp, "one", 1, "dcgan", TINY["dcgan"], max_steps=6, **DCGAN_RUN)[0]["state"]


def test_dcgan_on_two_processes_matches_one_process_with_the_same_global_batch(tmp_path, one_process):
    two = run(tmp_path, "two", 2, "dcgan", TINY["dcgan"], max_steps=6, **DCGAN_RUN)[0]["state"]
    unsynced = run(tmp_path, "plain", 2, "dcgan", TINY["dcgan"], max_steps=6,
                   **{**DCGAN_RUN, "sync_batchnorm": False})[0]["state"]
    floats = [k for k in one_process if one_process[k].is_floating_point()]
    worst = max((one_process[k] - two[k]).abs().max().item() for k in floats)
    assert worst < 1e-4
    for key in one_process:
        torch.testing.assert_close(two[key], one_process[key], rtol=1e-4, atol=1e-5, msg=key)
    # not vacuous: without synchronised statistics each half-batch is normalised on its own
    assert max((one_process[k] - unsynced[k]).abs().max().item() for k in floats) > 100 * worst


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_checkpoint_from_n_processes_resumes_on_m(tmp_path, one_process, first, then):
    run(tmp_path, "split", first, "dcgan", TINY["dcgan"], max_steps=3, **DCGAN_RUN)
    resumed = run(tmp_path, "split", then, "dcgan", TINY["dcgan"], max_steps=6, **DCGAN_RUN)
    assert resumed[0]["world_size"] == then
    for key in one_process:
        torch.testing.assert_close(resumed[0]["state"][key], one_process[key], rtol=1e-4, atol=1e-5, msg=key)


def test_torchrun_runs_the_command_line(tmp_path):
    out = tmp_path / "run"
    result = torchrun(2, "-m", "multigan", "train", "dcgan", "--steps", "4", "--batch-size", "8", "--out", str(out),
                      "--no-progress", *[f"--set={k}={v}" for k, v in TINY["dcgan"].items() if k != "channels"])
    assert result.stdout.count("run folder:") == 1          # printed by rank 0 only
    assert multigan.load(out).config.g_width == 4
    assert json.loads((out / "config.json").read_text())["train"]["batch_size"] == 8


def test_nproc_launches_torchrun(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "dcgan", "--nproc", "2", "--steps", "2", "--batch-size", "4", "--out", str(out),
                 "--no-progress", *[f"--set={k}={v}" for k, v in TINY["dcgan"].items() if k != "channels"]]) == 0
    assert (out / "checkpoints" / "last.pt").is_file()


def test_a_global_batch_that_does_not_divide_among_the_processes_is_refused(tmp_path):
    spec = {"name": "dcgan", "config": TINY["dcgan"], "out_dir": str(tmp_path / "run"), "dump": str(tmp_path / "d"),
            "train": {"data": "digits", "max_steps": 1, "batch_size": 5}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(WORKER), str(tmp_path / "spec.json")], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "batch_size 5 is the global batch and must divide among the 2 processes" in result.stdout + result.stderr
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()
