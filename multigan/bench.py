"""Training throughput: multigan's trainer against a plain PyTorch loop of the same model.

``multigan bench NAME`` builds the family, runs the trainer's own update code (the same
``Trainer.update`` a training run uses: precision, finite checks, EMA, fused kernels) on a few
batches of the family's built-in data held on the device, and times it: ``warmup`` iterations,
then the median of ``steps`` timed ones. In the same run, the same architecture trained by a
minimal eager fp32 loop written by hand (``multigan/baselines/NAME.py``, which imports no multigan
code) is timed the same way, and each row reports the speed-up over it.

An iteration is what one training step does: ``n_critic`` discriminator updates and one
generator update. A GAN may split it into separately timed rows (``GAN.bench_steps``): SeqGAN
times its policy-gradient step (sampling, rollouts, rewards, update) and one discriminator
update on their own, since its schedule runs epochs of the latter per step of the former.

Every row records the machine, since a speed-up holds only on hardware like the one that
measured it: the precision that actually ran (``precision``; ``"auto"`` resolves per machine)
beside the one asked for (``precision_requested``), and the CPU's vector extensions
(``cpu_capability``), whether it runs bf16 natively (``bf16_native``), its model and torch's
thread count. On a CPU that emulates bf16, a bf16 row is still measured when asked for (it is
what the user would get), and :func:`format_table` marks it ``(emulated)``.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import importlib.util
import json
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

import torch

from .errors import ConfigError
from .precision import cpu_info
from .registry import build, get_modality
from .train import Trainer

BASELINES_PACKAGE = "multigan.baselines"
N_BATCHES = 4  # distinct batches cycled through, so data loading is not what is timed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_medians(fns: Sequence[Callable[[], Any]], steps: int, device: torch.device) -> list[float]:
    """The median wall time in seconds of each of ``fns`` over ``steps`` rounds. Each round
    calls every function once, in turn, so a drift in the machine's speed (other tenants, clock
    changes) reaches all of them alike and their ratio stays fair."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(steps):
        for fn, record in zip(fns, times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def load_baseline(name: str) -> ModuleType | None:
    """The plain-loop module ``multigan.baselines.NAME``, or None when that family has none."""
    if not name.isidentifier() or name.startswith("_"):
        return None
    module = f"{BASELINES_PACKAGE}.{name}"
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


def machine_fields() -> dict[str, Any]:
    """The row fields that describe this machine's CPU (from :func:`multigan.precision.cpu_info`):
    ``cpu_capability``, ``bf16_native``, ``cpu_model`` and ``cpu_threads``."""
    info = cpu_info()
    return {"cpu_capability": info.capability, "bf16_native": info.bf16_native, "cpu_model": info.model,
            "cpu_threads": info.threads}


def machine(device: torch.device | None = None) -> str:
    """The machine in words: the GPU's name (on ``device``, or on a machine with CUDA when
    ``device`` is None), else the CPU's model, thread count, vector extensions and whether it
    runs bf16 natively."""
    on_gpu = torch.cuda.is_available() if device is None else device.type == "cuda"
    if on_gpu:
        return torch.cuda.get_device_name(device)
    info = cpu_info()
    return (f"{info.model}, {info.threads} threads, {info.capability}, "
            f"bf16 {'native' if info.bf16_native else 'emulated'}")


def emulated_bf16(row: dict[str, Any]) -> bool:
    """Whether ``row`` ran bf16 on a CPU that emulates it (so its speed says little about a CPU
    with native bf16, and the reverse). False for rows that do not say (older results)."""
    return (str(row.get("precision", "")).startswith("bf16") and str(row.get("device", "")).startswith("cpu")
            and row.get("bf16_native") is False)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    # the process's peak resident set (Linux reports KiB): an upper bound for the row
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def prepared(name: str, precision: str = "auto", kernels: str = "auto", batch_size: int | None = None,
             device: str = "auto", overrides: dict[str, Any] | None = None, compile: bool = False
             ) -> Iterator[tuple[Trainer, float, dict[str, Callable[[], None]]]]:
    """Family ``name`` ready to time: its trainer (set up in a temporary run folder, cycling
    through a few batches already on the device), the units one batch holds, and one callable
    per row of ``gan.bench_steps`` that runs that row's updates through ``Trainer.update``."""
    torch.manual_seed(0)
    gan = build(name, **(overrides or {}))
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(gan, out_dir=out_dir, batch_size=batch_size, precision=precision, kernels=kernels,
                          device=device, progress=False, max_steps=1, compile=compile)
        trainer.setup(repeat_batches=N_BATCHES)
        units = get_modality(gan.modality).batch_units(trainer.repeated_batches[0], gan)

        def step(network: str | None, label: str) -> Callable[[], Any]:
            if network is None:
                return trainer.adversarial_updates
            loss = gan.generator_loss if network == "generator" else gan.discriminator_loss

            def run() -> None:
                trainer.update(network, loss, prefix=label)
            return run

        yield trainer, units, {label: step(network, label) for label, network in gan.bench_steps.items()}


def bench(name: str, steps: int = 10, warmup: int = 2, precision: str = "auto", kernels: str = "auto",
          batch_size: int | None = None, device: str = "auto", overrides: dict[str, Any] | None = None,
          baseline: bool = True, compile: bool = False) -> list[dict[str, Any]]:
    """Time family ``name``'s training iterations; one dict per row (see the module docstring).

    ``precision`` is one of :data:`multigan.precision.PRECISIONS`; ``"auto"`` (the default) is
    what the trainer resolves it to on this machine. ``overrides`` change the family config
    (``kernels`` is set by its own argument). Rows hold ``family``, ``step``, ``unit``,
    ``throughput``, ``baseline_throughput``, ``speedup``, ``median_s``, ``baseline_median_s``,
    ``peak_memory_mb``, ``precision`` (what ran: ``"32"``, ``"bf16-mixed"``, ...),
    ``precision_requested`` (what was asked: ``"auto"``, ...), ``kernels``, ``compile``,
    ``device``, ``batch_size``, ``first_s``, ``compile_s``, the machine (``machine``, ``cpu_capability``, ``bf16_native``,
    ``cpu_model``, ``cpu_threads``) and the versions.

    With ``compile`` the trainer compiles G's and D's forward passes (``torch.compile``); the
    first iteration, which compiles, is timed on its own (``first_s``), and ``compile_s`` is
    its excess over the steady-state median, so the throughput is the compiled code's alone.
    """
    if steps < 1 or warmup < 0:
        raise ConfigError(f"bench needs steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    rows = []
    with prepared(name, precision, kernels, batch_size, device, overrides, compile) as (trainer, units, iterations):
        gan, dev = trainer.gan, trainer.device
        unit = get_modality(gan.modality).unit
        reference = load_baseline(name) if baseline else None
        for label, ours in iterations.items():
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            first = time.perf_counter()
            ours()   # at least one untimed call, so the peak memory is multigan's own (and compiling is done)
            _sync(dev)
            first = time.perf_counter() - first
            for _ in range(warmup - 1):
                ours()
            row = {"family": name, "step": label, "unit": f"{unit}/s", "peak_memory_mb": _peak_memory_mb(dev)}
            if reference is None:
                (seconds,) = time_medians([ours], steps, dev)
                row.update(baseline_throughput=None, baseline_median_s=None, speedup=None)
            else:
                step_fn, baseline_units = reference.make_step(asdict(gan.config), trainer.batch_size, dev, step=label)
                for _ in range(warmup):
                    step_fn()
                seconds, base_seconds = time_medians([ours, step_fn], steps, dev)
                row.update(baseline_throughput=baseline_units / base_seconds, baseline_median_s=base_seconds,
                           speedup=(units / seconds) / (baseline_units / base_seconds))
                del step_fn
            row.update(throughput=units / seconds, median_s=seconds, first_s=first,
                       compile_s=max(first - seconds, 0.0) if compile else None)
            rows.append({**row, "precision": trainer.precision, "precision_requested": precision,
                         "kernels": kernels, "compile": trainer.requested.compile, "device": str(dev),
                         "machine": machine(dev), **machine_fields(), "batch_size": trainer.batch_size,
                         "steps": steps, "warmup": warmup, "torch": torch.__version__,
                         "python": platform.python_version(),
                         "date": datetime.date.today().isoformat()})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of bench rows. A bf16 row measured on a CPU that emulates bf16 reads
    ``bf16-mixed (emulated)``; the ``cpu`` column is the CPU's vector extensions (torch's
    ``get_cpu_capability()``, ``n/a`` for rows that predate it)."""
    lines = ["| family | step | unit | multigan | plain loop | speed-up | precision | kernels | batch | peak MB "
             "| device | cpu | compile s |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | --- | ---: |"]
    for r in rows:
        base = "n/a" if r["baseline_throughput"] is None else f"{r['baseline_throughput']:.4g}"
        speed = "n/a" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        precision = f"{r['precision']}{' (emulated)' if emulated_bf16(r) else ''}"
        lines.append(f"| {r['family']} | {r['step']} | {r['unit']} | {r['throughput']:.4g} | {base} | {speed} "
                     f"| {precision} | {r['kernels']}{' +compile' if r['compile'] else ''} | {r['batch_size']} "
                     f"| {r['peak_memory_mb']:.0f} | {r['device']} | {r.get('cpu_capability') or 'n/a'} "
                     f"| {'' if r.get('compile_s') is None else format(r['compile_s'], '.1f')} |")
    return "\n".join(lines)


def write_json(rows: list[dict[str, Any]], path: str | Path, command: str) -> None:
    """Rows as a JSON list, each with ``command``: the command line that produced them."""
    Path(path).write_text(json.dumps([{**r, "command": command} for r in rows], indent=2) + "\n")
