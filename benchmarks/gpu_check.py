"""The CUDA path proved in one prepared run (``benchmarks/gpu_check.sh`` calls this).

    bash benchmarks/gpu_check.sh                     # on a CUDA machine: everything, under 8 minutes on one H100/H200
    bash benchmarks/gpu_check.sh --dry-run           # the same steps on the CPU at the smallest sizes (CI runs it)
    bash benchmarks/gpu_check.sh --out DIR --families dcgan seqgan

Steps, in order; each one's time is printed and a failing step is recorded without stopping the
rest:

1. ``environment``: ``nvidia-smi``, and the versions of torch, Triton and CUDA;
2. ``kernel-tests``: the kernel tests (``tests/test_kernel_*.py``), compiled for real on a GPU
   (under Triton's interpreter in a dry run);
3. ``kernel-bench``: ``benchmarks/kernels.py``, each fused op against its reference, fp32 and bf16;
4. ``training``: a short run per family in ``32``, ``bf16-mixed`` and ``16-mixed`` (CUDA only),
   resumed once, so checkpoints with the CUDA random state are written and read;
5. ``bench``: ``benchmarks/run_all.py`` for every family and precision, few steps, fused kernels
   (each kernel against its reference is step 3);
6. ``compile``: ``multigan bench NAME --compile`` (``torch.compile`` on, beside eager) for DCGAN
   and WaveGAN (its gradient penalty) on a GPU, DCGAN alone in a dry run: compiling costs tens of
   seconds per family, and the whole check must fit in 8 minutes (every family compiles in
   ``tests/test_compile.py``);
7. ``mfu``: DCGAN's training step in bf16, its FLOPs counted by ``torch.utils.flop_counter``,
   as a fraction of the GPU's dense bf16 peak (:data:`PEAK_BF16_TFLOPS`).

Everything goes under ``--out`` (default ``gpu-check-DATE``): ``summary.md`` (the table of steps,
then the training runs), ``steps.json``, each step's JSON rows and ``logs/STEP.log``. The exit
status is 1 when a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY = json.loads((Path(__file__).parent / "tiny_configs.json").read_text())
FAMILIES = [name for name in TINY if not name.startswith("_")]
#: what a short run on the GPU changes in the families' defaults: pre-training kept to one epoch,
#: and HiFi-GAN on the notes (the speech corpus needs espeak-ng, which a bare GPU machine lacks)
GPU_RUN = {"seqgan": {"set": {"pretrain_g_epochs": 1, "pretrain_d_rounds": 1}},
           "relgan": {"set": {"pretrain_g_epochs": 1}},
           "hifigan": {"data": "notes", "set": {}}}


#: dense bf16 tensor-core peaks in TFLOP/s, by a word of the device's name (the vendors' data sheets)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def run_step(name: str, commands: list[list[str]], out: Path, env: dict[str, str] | None = None,
             budget: float = 600) -> dict:
    """Run ``commands`` one after another into ``out/logs/NAME.log``, within ``budget`` seconds
    for them all (a command still running then is stopped and the step fails); the step's record."""
    log = out / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start, status, detail = time.monotonic(), "ok", ""
    with log.open("w") as f:
        for cmd in commands:
            f.write(f"$ {shlex.join(cmd)}\n")
            f.flush()
            left = budget - (time.monotonic() - start)
            if left <= 0:
                status, detail = "failed", f"out of its {budget:g} s before: {shlex.join(cmd)}"
                continue
            try:
                done = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=left,
                                      env={**os.environ, **(env or {})})
            except subprocess.TimeoutExpired:
                status, detail = "failed", f"stopped at the step's {budget:g} s: {shlex.join(cmd)}"
                continue
            except OSError as exc:
                status, detail = "failed", f"{cmd[0]}: {exc}"
                continue
            if done.returncode != 0:
                status, detail = "failed", f"exit {done.returncode}: {shlex.join(cmd)}"
    record = {"step": name, "status": status, "seconds": round(time.monotonic() - start, 1), "detail": detail,
              "log": str(log.relative_to(out))}
    print(f"[{name}] {status} in {record['seconds']} s {detail}".rstrip(), flush=True)
    return record


def skipped(name: str, why: str) -> dict:
    print(f"[{name}] skipped: {why}", flush=True)
    return {"step": name, "status": "skipped", "seconds": 0.0, "detail": why, "log": ""}


def set_flags(overrides: dict) -> list[str]:
    """``--set KEY=VALUE`` flags of a config override dict (lists as JSON)."""
    return [f"--set={k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in overrides.items()]


def family_settings(name: str, dry: bool) -> tuple[str | None, dict]:
    """``(data, config overrides)`` of family ``name`` in this check."""
    spec = TINY[name] if dry else GPU_RUN.get(name, {"set": {}})
    return spec.get("data"), spec["set"]


def train(out: Path, families: list[str], precisions: list[str], steps: int, dry: bool) -> int:
    """Step 4, in one process: each family at each precision trains ``steps`` steps, then the
    same run resumes to ``2 * steps``. Writes ``out/training.json``; returns the failures."""
    import torch

    import multigan
    from multigan.runs import load_state

    rows = []
    for name in families:
        data, overrides = family_settings(name, dry)
        for precision in precisions:
            run = out / "runs" / f"{name}-{precision}"
            row = {"family": name, "precision": precision, "steps": 2 * steps}
            start = time.monotonic()
            try:
                for target in (steps, 2 * steps):   # the second call resumes from the first's checkpoint
                    torch.manual_seed(0)
                    multigan.Trainer(multigan.build(name, **overrides), data=data, out_dir=run, max_steps=target,
                                     precision=precision, progress=False, sample_every=0, log_every=1,
                                     batch_size=4 if dry else None).fit()
                reached = load_state(run / "checkpoints" / "last.pt")["step"]
                row["status"] = "ok" if reached == 2 * steps else f"failed: stopped at step {reached}"
            except Exception as exc:   # recorded, and the next run goes on
                row["status"] = f"failed: {type(exc).__name__}: {exc}"
                traceback.print_exc()
            row["seconds"] = round(time.monotonic() - start, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    (out / "training.json").write_text(json.dumps(rows, indent=1) + "\n")
    return sum(row["status"] != "ok" for row in rows)


def mfu(out: Path, dry: bool) -> None:
    """Step 7: DCGAN's training iteration (1 D and 1 G update) in bf16: FLOPs per iteration,
    median time, achieved TFLOP/s and, on a GPU with a known peak, the MFU. Writes ``out/mfu.json``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from multigan.bench import prepared, time_medians

    overrides = TINY["dcgan"]["set"] if dry else {}
    with prepared("dcgan", "bf16-mixed", "auto", 4 if dry else None, "auto", overrides) as (trainer, _, iterations):
        (step,) = iterations.values()
        step()
        with FlopCounterMode(display=False) as counter:
            step()
        seconds = time_medians([step], 2 if dry else 20, trainer.device)[0]
        device = trainer.device
    flops = counter.get_total_flops()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    row = {"family": "dcgan", "precision": "bf16-mixed", "batch_size": trainer.batch_size, "device": name,
           "flops_per_step": flops, "median_s": seconds, "tflops": flops / seconds / 1e12,
           "peak_tflops": peak, "mfu": None if peak is None else flops / seconds / 1e12 / peak}
    (out / "mfu.json").write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, at the smallest sizes")
    parser.add_argument("--out", help="output folder (default: gpu-check-DATE, or gpu-check-dry-run-DATE)")
    parser.add_argument("--families", nargs="+", default=FAMILIES, choices=FAMILIES)
    tr = sub.add_parser("train", help="step 4 alone, in this process (the check runs it so)")
    tr.add_argument("--out", required=True)
    tr.add_argument("--families", nargs="+", required=True)
    tr.add_argument("--precisions", nargs="+", required=True)
    tr.add_argument("--steps", type=int, required=True)
    tr.add_argument("--dry-run", action="store_true")
    mf = sub.add_parser("mfu", help="step 7 alone, in this process")
    mf.add_argument("--out", required=True)
    mf.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    if args.command == "train":
        return 1 if train(Path(args.out), args.families, args.precisions, args.steps, args.dry_run) else 0
    if args.command == "mfu":
        mfu(Path(args.out), args.dry_run)
        return 0

    import torch

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --dry-run to check the script on the CPU", file=sys.stderr)
        return 2
    today = datetime.date.today().isoformat()
    out = Path(args.out or f"gpu-check-{'dry-run-' if dry else ''}{today}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    py, families = sys.executable, args.families
    precisions = ["32", "bf16-mixed"] + ([] if dry else ["16-mixed"])
    # a dry run runs Triton's interpreter on the CPU; on a GPU the kernels compile for real
    env = {"TRITON_INTERPRET": "1"} if dry else {"TRITON_INTERPRET": "0"}
    started = time.monotonic()
    steps = []

    versions = [py, "-c", "import torch, platform; import importlib.util as u; "
                "print('python', platform.python_version(), 'torch', torch.__version__, 'cuda', torch.version.cuda, "
                "'device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'); "
                "print('triton', __import__('triton').__version__ if u.find_spec('triton') else 'absent')"]
    # each step's time budget: together 460 s, so the check ends inside 8 minutes on a GPU even when
    # a step hangs (a dry run on a CPU gets three times as long)
    scale = 3 if dry else 1
    steps.append(run_step("environment", ([] if dry else [["nvidia-smi"]]) + [versions], out, env, budget=20 * scale))

    kernel_tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_kernel_*.py"))
    steps.append(run_step("kernel-tests", [[py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *kernel_tests]],
                          out, env, budget=60 * scale))

    kernel_bench = [[py, "benchmarks/kernels.py", "--dtype", dtype, "--json", str(out / f"kernels-{dtype}.json"),
                     *(["--allow-cpu", "--steps", "1", "--warmup", "0"] if dry else [])]
                    for dtype in (["float32"] if dry else ["float32", "bfloat16"])]
    steps.append(run_step("kernel-bench", kernel_bench, out, env, budget=40 * scale))

    steps.append(run_step("training", [[py, __file__, "train", "--out", str(out), "--families", *families,
                                        "--precisions", *precisions, "--steps", "2" if dry else "20",
                                        *(["--dry-run"] if dry else [])]], out, env, budget=120 * scale))

    bench = []
    for name in families:
        _, overrides = family_settings(name, dry)
        bench.append([py, "benchmarks/run_all.py", "--families", name, "--results", str(out),
                      "--name", f"bench-{name}", "--precision", *precisions,
                      "--steps", "1" if dry else "5", "--warmup", "0" if dry else "2",
                      "--kernels", "auto", *(["--batch-size", "4"] if dry else []), *set_flags(overrides)])
    steps.append(run_step("bench", bench, out, env, budget=100 * scale))

    compiled = []
    for name in [f for f in (["dcgan"] if dry else ["dcgan", "wavegan"]) if f in families]:
        _, overrides = family_settings(name, dry)
        compiled.append([py, "-m", "multigan", "bench", name, "--compile", "--steps", "1" if dry else "5",
                         "--warmup", "1" if dry else "2", "--json", str(out / f"compile-{name}.json"),
                         *(["--no-baseline", "--batch-size", "4", "--precision", "32"] if dry else []),
                         *set_flags(overrides)])
    steps.append(run_step("compile", compiled, out, env, budget=100 * scale))
    steps.append(run_step("mfu", [[py, __file__, "mfu", "--out", str(out), *(["--dry-run"] if dry else [])]], out, env,
                          budget=20 * scale))

    total = round(time.monotonic() - started, 1)
    (out / "steps.json").write_text(json.dumps(steps, indent=1) + "\n")
    write_summary(out, steps, total, dry)
    failed = [s["step"] for s in steps if s["status"] == "failed"]
    print(f"gpu_check: {len(steps) - len(failed)} of {len(steps)} steps ok in {total} s; summary: {out / 'summary.md'}")
    return 1 if failed else 0


def write_summary(out: Path, steps: list[dict], total: float, dry: bool) -> None:
    """``summary.md``: the steps, then the training runs."""
    lines = [f"# GPU check{' (dry run on the CPU)' if dry else ''}, {datetime.date.today()}", "",
             f"`bash benchmarks/gpu_check.sh {'--dry-run ' if dry else ''}--out {out.name}`, {total} s in all", "",
             "| step | status | seconds | detail | log |", "| --- | --- | ---: | --- | --- |"]
    lines += [f"| {s['step']} | {s['status']} | {s['seconds']} | {s['detail']} | {s['log']} |" for s in steps]
    if (out / "mfu.json").exists():
        m = json.loads((out / "mfu.json").read_text())
        share = "no known peak for this device" if m["mfu"] is None else f"MFU {100 * m['mfu']:.1f}% of {m['peak_tflops']:g}"
        lines += ["", f"DCGAN bf16 training step, batch {m['batch_size']} on {m['device']}: "
                      f"{m['flops_per_step'] / 1e9:.2f} GFLOP in {1000 * m['median_s']:.2f} ms, "
                      f"{m['tflops']:.2f} TFLOP/s ({share})"]
    training = out / "training.json"
    if training.exists():
        lines += ["", "| family | precision | steps (resumed at half) | status | seconds |", "| --- | --- | ---: | --- | ---: |"]
        lines += [f"| {r['family']} | {r['precision']} | {r['steps']} | {r['status']} | {r['seconds']} |"
                  for r in json.loads(training.read_text())]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
