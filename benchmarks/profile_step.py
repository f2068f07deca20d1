"""Where a family's training iteration spends its time: a torch.profiler table.

    python benchmarks/profile_step.py dcgan --precision bf16-mixed --steps 3
    python benchmarks/profile_step.py seqgan --row pg --batch-size 64

Runs the same iterations ``multigan bench`` times (multigan's trainer on batches already on the
device), one untimed first, then ``--steps`` under the profiler, and prints the operators sorted
by their own time (``self_cpu_time_total``, or CUDA time on a GPU). The header line names the
precision that ran (``--precision auto``, the default, resolves per machine, as in
``multigan bench``) and the machine: a bf16 profile on a CPU that emulates bf16 (no AVX-512 BF16
or AMX) shows oneDNN's emulation, not what a CPU with native bf16 spends.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from multigan.bench import machine, prepared
from multigan.config import parse_set_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--row", help="which row of the family's bench (default: the first)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precision", default="auto", help="32, bf16-mixed, 16-mixed or auto (default: auto)")
    parser.add_argument("--kernels", default="auto", help="auto (default) or eager")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--top", type=int, default=20, help="rows of the table (default: 20)")
    args = parser.parse_args()

    with prepared(args.name, args.precision, args.kernels, args.batch_size, args.device,
                  parse_set_options(args.set)) as (trainer, _, iterations):
        label = args.row or next(iter(iterations))
        run = iterations[label]
        run()  # warm-up: first-call allocations and kernel selection
        cuda = trainer.device.type == "cuda"
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            for _ in range(args.steps):
                run()
            if cuda:
                torch.cuda.synchronize()
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    print(f"{args.name} {label}: {args.steps} iterations, precision {trainer.precision} (asked: {args.precision}), "
          f"kernels {args.kernels}, batch {trainer.batch_size}, {trainer.device}, {machine(trainer.device)}")
    print(prof.key_averages().table(sort_by=key, row_limit=args.top))


if __name__ == "__main__":
    main()
