"""Benchmark every registered family and keep the table in benchmarks/results/.

    python benchmarks/run_all.py                          # every family, fp32, auto and eager kernels
    python benchmarks/run_all.py --precision 32 bf16-mixed --families dcgan
    python benchmarks/run_all.py --steps 3 --warmup 1    # quicker, noisier

Each configuration is one call of :func:`multigan.bench.bench` (what ``multigan bench`` runs):
multigan's trainer and the plain PyTorch loop of ``multigan/baselines/`` (the package
``multigan.baselines``, no multigan code) timed in the same process. Writes
``results/DATE-DEVICE.json`` (one object per row, each with the precision that ran and the one
asked for, and the CPU: ``cpu_capability``, ``bf16_native``, ``cpu_model``, ``cpu_threads``) and
``.md`` (the table, with the command, machine and versions) and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import torch

from multigan import list_models
from multigan.bench import bench, emulated_bf16, format_table, write_json

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", default=list_models(), help="default: every registered family")
    parser.add_argument("--precision", nargs="+", default=["32"],
                        help="precisions to run: 32, bf16-mixed, 16-mixed or auto (default: 32)")
    parser.add_argument("--kernels", nargs="+", default=["auto", "eager"], help="default: auto eager")
    parser.add_argument("--steps", type=int, default=5, help="timed iterations per row (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default: 1)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, help="default: each family's")
    parser.add_argument("--name", help="file name stem (default: DATE-DEVICE)")
    args = parser.parse_args()

    rows = []
    for family in args.families:
        for precision in args.precision:
            for kernels in args.kernels:
                print(f"{family} precision={precision} kernels={kernels} ...", flush=True)
                rows += bench(family, steps=args.steps, warmup=args.warmup, precision=precision, kernels=kernels,
                              batch_size=args.batch_size, device=args.device)
                print(format_table(rows[-1:]).splitlines()[-1], flush=True)

    device = "gpu" if rows[0]["device"].startswith("cuda") else "cpu"
    stem = args.name or f"{datetime.date.today().isoformat()}-{device}"
    command = "python benchmarks/run_all.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    write_json(rows, RESULTS / f"{stem}.json", command)
    table = format_table(rows)
    emulated = ("- bf16 rows marked \"(emulated)\" ran on a CPU without native bf16 (oneDNN emulates it): "
                "they say nothing about a CPU with AVX-512 BF16 or AMX\n" if any(map(emulated_bf16, rows)) else "")
    (RESULTS / f"{stem}.md").write_text(
        f"# Training throughput, {rows[0]['date']}\n\n"
        f"- command: `{command}`\n- machine: {rows[0]['machine']}\n"
        f"- CPU: {rows[0]['cpu_model']}, torch capability {rows[0]['cpu_capability']}, "
        f"bf16 {'native' if rows[0]['bf16_native'] else 'emulated'}, {rows[0]['cpu_threads']} threads\n"
        f"- versions: Python {platform.python_version()}, torch {torch.__version__}\n"
        f"- median of {args.steps} timed iterations after {args.warmup} warm-up; \"plain loop\": "
        f"multigan/baselines/, eager fp32, timed in the same process\n{emulated}\n{table}\n")
    print(table)
    print(f"written: {RESULTS / stem}.json and .md")


if __name__ == "__main__":
    main()
