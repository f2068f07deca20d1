"""Benchmark every registered family and keep the table in benchmarks/results/.

    python benchmarks/run_all.py                          # every family, fp32, auto and eager kernels
    python benchmarks/run_all.py --precision 32 bf16-mixed --families dcgan
    python benchmarks/run_all.py --steps 3 --warmup 1    # quicker, noisier
    python benchmarks/run_all.py --inference --families hifigan --set version=v3   # generation speed

Each configuration is one call of :func:`multigan.bench.bench` (what ``multigan bench`` runs):
multigan's trainer and the plain PyTorch loop of ``multigan/baselines/`` (the package
``multigan.baselines``, no multigan code) timed in the same process. With ``--inference``, one
call of :func:`multigan.bench_inference.bench_inference` (``multigan bench --inference``) per
family and kernels: generation at batch 1 and at the throughput batch, in fp32 and bf16 by
default, beside the plain fp32 forward. Writes ``results/DATE-DEVICE.json`` (``DATE-DEVICE-inference``
with ``--inference``; one object per row, each with the precision that ran and the one asked
for, and the CPU: ``cpu_capability``, ``bf16_native``, ``cpu_model``, ``cpu_threads``) and ``.md``
(the table, with the command, machine and versions) and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import torch

from multigan import bench_inference as inference
from multigan import list_models
from multigan.bench import bench, emulated_bf16, format_table, write_json
from multigan.config import parse_set_options

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=list_models(), help="default: every registered family")
    parser.add_argument("--inference", action="store_true",
                        help="time generation (multigan bench --inference) instead of training")
    parser.add_argument("--precision", nargs="+",
                        help="precisions to run: 32, bf16-mixed, 16-mixed or auto (default: 32; with --inference, "
                             "32 bf16-mixed)")
    parser.add_argument("--kernels", nargs="+", help="default: auto eager (with --inference: auto)")
    parser.add_argument("--steps", type=int, default=5, help="timed iterations per row (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default: 1)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int,
                        help="default: each family's (with --inference: the throughput batch, timed beside batch 1)")
    parser.add_argument("--seconds", type=float, default=inference.SECONDS,
                        help=f"with --inference: seconds of audio per vocoded mel (default: {inference.SECONDS:g})")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field of every family given (e.g. --families hifigan --set version=v3)")
    parser.add_argument("--name", help="file name stem (default: DATE-DEVICE, DATE-DEVICE-inference with --inference)")
    parser.add_argument("--results", default=str(RESULTS), help="folder for the JSON and Markdown (default: results/)")
    parser.add_argument("--compile", action="store_true", help="also time each row with torch.compile on")
    parser.add_argument("--no-baseline", action="store_true", help="time multigan only, not the plain loops")
    args = parser.parse_args()
    overrides = parse_set_options(args.set)

    rows = []
    if args.inference:
        show = inference.format_table
        batch_sizes = None if args.batch_size is None else (1, args.batch_size)
        for family in args.families:
            for kernels in args.kernels or ["auto"]:
                print(f"{family} kernels={kernels} ...", flush=True)
                new = inference.bench_inference(family, batch_sizes=batch_sizes,
                                                precisions=args.precision or inference.PRECISIONS, steps=args.steps,
                                                warmup=args.warmup, device=args.device, kernels=kernels,
                                                overrides=overrides, seconds=args.seconds)
                rows += new
                print("\n".join(show(new).splitlines()[2:]), flush=True)
    else:
        show = format_table
        for family in args.families:
            for precision in args.precision or ["32"]:
                for kernels in args.kernels or ["auto", "eager"]:
                    print(f"{family} precision={precision} kernels={kernels} ...", flush=True)
                    for compiled in [False, True] if args.compile else [False]:
                        new = bench(family, steps=args.steps, warmup=args.warmup, precision=precision,
                                    kernels=kernels, batch_size=args.batch_size, device=args.device,
                                    overrides=overrides, compile=compiled, baseline=not args.no_baseline)
                        rows += new
                        print("\n".join(show(new).splitlines()[2:]), flush=True)

    device = "gpu" if rows[0]["device"].startswith("cuda") else "cpu"
    stem = args.name or f"{datetime.date.today().isoformat()}-{device}" + ("-inference" if args.inference else "")
    command = "python benchmarks/run_all.py " + " ".join(sys.argv[1:])
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    write_json(rows, results / f"{stem}.json", command)
    table = show(rows)
    emulated = ("- bf16 rows marked \"(emulated)\" ran on a CPU without native bf16 (oneDNN emulates it): "
                "they say nothing about a CPU with AVX-512 BF16 or AMX\n" if any(map(emulated_bf16, rows)) else "")
    if args.inference:
        title, timed = "Inference speed", (
            f"median of {args.steps} timed generation calls after {args.warmup} warm-up; vocoders vocode "
            f"{args.seconds:g} s mels, \"x real time\" is seconds of audio per second; \"plain fp32\": the "
            "generator of multigan/baselines/, eager fp32, weight norm removed, timed in the same process")
    else:
        title, timed = "Training throughput", (
            f"median of {args.steps} timed iterations after {args.warmup} warm-up; \"plain loop\": "
            "multigan/baselines/, eager fp32, timed in the same process")
    (results / f"{stem}.md").write_text(
        f"# {title}, {rows[0]['date']}\n\n"
        f"- command: `{command}`\n- machine: {rows[0]['machine']}\n"
        f"- CPU: {rows[0]['cpu_model']}, torch capability {rows[0]['cpu_capability']}, "
        f"bf16 {'native' if rows[0]['bf16_native'] else 'emulated'}, {rows[0]['cpu_threads']} threads\n"
        f"- versions: Python {platform.python_version()}, torch {torch.__version__}\n"
        f"- {timed}\n{emulated}\n{table}\n")
    print(table)
    print(f"written: {results / stem}.json and .md")


if __name__ == "__main__":
    main()
