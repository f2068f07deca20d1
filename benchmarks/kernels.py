"""Each fused op against its plain-PyTorch reference, forward and backward, on the shapes the
families train with.

    python benchmarks/kernels.py                     # on CUDA: the compiled Triton kernels
    python benchmarks/kernels.py --dtype bfloat16 --json kernels.json

Prints one row per op and pass: the median time of the reference and of the fused kernel over
``--steps`` interleaved rounds, and the speed-up; ``--json`` rows also record the machine (as
``multigan bench`` rows do: ``machine``, ``cpu_capability``, ``bf16_native``, ``cpu_model``,
``cpu_threads``). Without a GPU, Triton's CPU interpreter runs the
kernels (``TRITON_INTERPRET=1``) and the times say nothing about their speed: this script then
refuses, unless ``--allow-cpu`` is given (to check that it runs, at batch 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Callable

import torch

if not torch.cuda.is_available():  # Triton reads this when the kernels are defined, at import
    os.environ.setdefault("TRITON_INTERPRET", "1")

from multigan.bench import machine, machine_fields  # noqa: E402
from multigan.kernels import adversarial_loss, bias_act, phase_shuffle, sample_categorical, token_logprobs  # noqa: E402


def cases(device: torch.device, dtype: torch.dtype, batch: int = 64) -> dict[str, Callable[[str], Callable[[], object]]]:
    """op name -> (impl -> one call of the op's forward and backward on the shapes a family
    trains with at ``batch``)."""
    g = torch.Generator(device=device).manual_seed(0)

    def leaf(*shape: int, dt: torch.dtype = dtype) -> torch.Tensor:
        return torch.randn(*shape, generator=g, device=device, dtype=dt).requires_grad_()

    x_img, b_img = leaf(batch, 256, 16, 16), leaf(256)         # a DCGAN-64 hidden layer
    x_wav = leaf(batch, 128, 1024)                             # a WaveGAN D feature map
    shifts = torch.randint(-2, 3, (batch,), generator=g, device=device)
    logits = torch.randn(batch * 19 * 16, 5000, generator=g, device=device, dtype=dtype)  # SeqGAN rollouts
    hidden, weight, bias = leaf(batch, 20, 32), leaf(5000, 32), leaf(5000)               # SeqGAN's head
    tokens = torch.randint(5000, (batch, 20), generator=g, device=device)
    n_audio = max(1, batch // 4)                               # MelGAN's batch 16 at 64
    real_map, fake_map = leaf(n_audio, 1, 8192, dt=torch.float32), leaf(n_audio, 1, 8192, dt=torch.float32)

    def backward(out: torch.Tensor) -> None:
        out.float().sum().backward()

    return {
        "bias_act (lrelu)": lambda impl: lambda: backward(bias_act(x_img, b_img, "lrelu", impl=impl)),
        "phase_shuffle": lambda impl: lambda: backward(phase_shuffle(x_wav, 2, shifts, impl=impl)),
        "sample_categorical": lambda impl: lambda: sample_categorical(logits, generator=g, impl=impl),
        "token_logprobs": lambda impl: lambda: backward(token_logprobs(hidden, weight, bias, tokens, impl=impl)),
        "adversarial_loss (hinge)": lambda impl: lambda: backward(adversarial_loss(real_map, fake_map, "hinge",
                                                                                   impl=impl)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--allow-cpu", action="store_true", help="run under Triton's interpreter (no timing value)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        raise SystemExit("no GPU: the Triton kernels would run in the interpreter; pass --allow-cpu to run anyway")
    device = torch.device("cuda" if cuda else "cpu")
    dtype = getattr(torch, args.dtype)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    rows = []
    print("| op | reference ms | fused ms | speed-up |\n| --- | ---: | ---: | ---: |")
    for name, make in cases(device, dtype, batch=64 if cuda else 1).items():
        runs = {impl: make(impl) for impl in ("ref", "triton")}
        for fn in runs.values():
            for _ in range(args.warmup):
                fn()
        times: dict[str, list[float]] = {impl: [] for impl in runs}
        for _ in range(args.steps):
            for impl, fn in runs.items():  # interleaved, so drift reaches both alike
                sync()
                start = time.perf_counter()
                fn()
                sync()
                times[impl].append(time.perf_counter() - start)
        ref, fused = (statistics.median(times[k]) * 1e3 for k in ("ref", "triton"))
        rows.append({"op": name, "dtype": args.dtype, "device": str(device), "ref_ms": ref, "fused_ms": fused,
                     "speedup": ref / fused, "machine": machine(device), **machine_fields()})
        print(f"| {name} | {ref:.3f} | {fused:.3f} | {ref / fused:.2f}x |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
