"""benchmarks/gpu_check.sh --dry-run: the GPU check's own steps, run on the CPU at the smallest
sizes, so the script cannot fail on a typo when a GPU finally runs it."""

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_dry_run_runs_every_step_and_writes_its_summary(tmp_path):
    out = tmp_path / "check"
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry-run", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    steps = json.loads((out / "steps.json").read_text())
    assert [s["step"] for s in steps] == ["environment", "kernel-tests", "kernel-bench", "training", "bench",
                                          "compile", "mfu"]
    failed = {s["step"]: (out / s["log"]).read_text()[-3000:] for s in steps if s["status"] != "ok"}
    assert not failed and done.returncode == 0, (failed, done.stdout[-2000:], done.stderr[-2000:])
    training = json.loads((out / "training.json").read_text())
    families = {row["family"] for row in training}
    assert families == {"dcgan", "sngan", "wavegan", "melgan", "hifigan", "seqgan", "relgan"}
    assert {row["precision"] for row in training} == {"32", "bf16-mixed"}
    assert all(row["status"] == "ok" for row in training)
    summary = (out / "summary.md").read_text()
    assert "| training | ok |" in summary and "GFLOP" in summary
    assert list(out.glob("bench-*.json")) and list(out.glob("compile-*.json")) and (out / "mfu.json").exists()
    compiled = json.loads(next(out.glob("compile-*.json")).read_text())
    assert {row["compile"] for row in compiled} == {False, True}
    assert all(row["compile_s"] is not None for row in compiled if row["compile"])
