"""Runs that are stopped: SIGINT and SIGTERM end with a checkpoint and a message; SIGKILL at
any moment, checkpoint writes included, leaves a run that resumes to the very weights an
uninterrupted run reaches. Each run is a real ``python -m multigan train`` process."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import multigan
from multigan.runs import load_state

TINY = dict(image_size=32, g_width=4, d_width=4, latent_dim=8)
STEPS = 300


def command(out: Path, steps: int, checkpoint_every: int) -> list[str]:
    return [sys.executable, "-m", "multigan", "train", "dcgan", "--steps", str(steps), "--batch-size", "4",
            "--out", str(out), "--checkpoint-every", str(checkpoint_every), "--sample-every", "0",
            "--log-every", "1", "--no-progress", *[f"--set={k}={v}" for k, v in TINY.items()]]


def start(out: Path, steps: int, checkpoint_every: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command(out, steps, checkpoint_every), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for_step(out: Path, step: int, timeout: float = 120, proc: subprocess.Popen | None = None) -> None:
    """Until ``metrics.jsonl`` records ``step`` (logged every step); fails at once if ``proc`` ends."""
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run exited ({proc.returncode}) before step {step}: {proc.stderr.read()[-2000:]}")
        lines = metrics.read_text().splitlines() if metrics.exists() else []
        if lines and lines[-1].endswith("}") and json.loads(lines[-1])["step"] >= step:
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} not reached in {timeout} s")


def weights(run: Path) -> dict[str, torch.Tensor]:
    return multigan.load(run).state_dict()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: the same run, never stopped."""
    out = tmp_path_factory.mktemp("straight") / "run"
    subprocess.run(command(out, STEPS, 10), check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return weights(out)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_the_step_writes_a_checkpoint_and_says_how_to_resume(tmp_path, uninterrupted, sig, status):
    out = tmp_path / "run"
    proc = start(out, STEPS, 1000)                   # no periodic checkpoint before the signal
    wait_for_step(out, 5, proc=proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    name = signal.Signals(sig).name
    assert f"stopped by {name} at step" in stderr and "To resume, run the same command again" in stderr
    step = load_state(out / "checkpoints" / "last.pt")["step"]
    assert 5 <= step < STEPS
    assert f"at step {step}:" in stderr
    # the same command again continues to the end, and lands where the uninterrupted run did
    subprocess.run(command(out, STEPS, 10), check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    for key, value in weights(out).items():
        assert torch.equal(value, uninterrupted[key]), key


def test_sigkill_at_random_moments_always_leaves_a_run_that_resumes_exactly(tmp_path, uninterrupted):
    out = tmp_path / "run"
    rng = random.Random(0)
    checkpointed, in_a_write = [0], 0
    # Stop killing well before the end: on a fast machine a late kill could let the run finish.
    while (len(checkpointed) <= 6 or (in_a_write < 2 and len(checkpointed) <= 20)) and checkpointed[-1] < STEPS - 50:
        proc = start(out, STEPS, 1)               # a checkpoint every step: many kills land in a write
        try:
            # a killed run logs at most one step past its last checkpoint: step + 2 is this run's
            wait_for_step(out, checkpointed[-1] + 2, proc=proc)
            time.sleep(rng.uniform(0.0, 0.1))
        finally:
            proc.kill()
            proc.wait()
        in_a_write += bool(list((out / "checkpoints").glob(".*tmp*")))   # the write it cut short
        state = load_state(out / "checkpoints" / "last.pt")               # never half a file
        assert state["step"] > checkpointed[-1]
        checkpointed.append(state["step"])
    assert in_a_write >= 1 and checkpointed[-1] < STEPS, (in_a_write, checkpointed)
    subprocess.run(command(out, STEPS, 1), check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert not list((out / "checkpoints").glob(".*tmp*"))   # a killed write's temporary file is cleared
    for key, value in weights(out).items():
        assert torch.equal(value, uninterrupted[key]), key


def test_a_metrics_line_torn_by_a_kill_is_dropped_on_resume(tmp_path):
    settings = dict(data="digits", out_dir=tmp_path, batch_size=4, progress=False, log_every=1, sample_every=0)
    torch.manual_seed(0)
    multigan.Trainer(multigan.build("dcgan", channels=1, **TINY), max_steps=2, **settings).fit()
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 3, "phase": "adver')            # the process died mid-append
    multigan.Trainer(multigan.load(tmp_path), max_steps=4, **settings).fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_ctrl_c_under_torchrun_stops_every_process_at_one_checkpoint(tmp_path):
    """A terminal's Ctrl-C reaches torchrun and both workers (and torchrun passes it on once
    more): both stop after the same step, rank 0 writes the checkpoint and says so once."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *command(out, STEPS, 1000)[1:]]                      # "-m multigan train dcgan ..."
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    wait_for_step(out, 5)
    os.killpg(proc.pid, signal.SIGINT)                          # what Ctrl-C does: the whole group
    _, stderr = proc.communicate(timeout=120)
    assert stderr.count("stopped by SIGINT at step") == 1, stderr[-3000:]
    step = load_state(out / "checkpoints" / "last.pt")["step"]
    assert f"at step {step}:" in stderr and 5 <= step < STEPS
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == step
