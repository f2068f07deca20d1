"""Generation speed: multigan's sampling path against a plain PyTorch forward of the same generator.

``multigan bench NAME --inference`` builds the family, makes the copy of it that generation
should use (:func:`multigan.inference.inference_copy`: weight norm and spectral norm folded into
plain weights, as the MelGAN and HiFi-GAN inference scripts remove weight norm) and times
``gan.sample`` on it, the family's own public path, under ``torch.inference_mode`` and, for
mixed precision, autocast: ``warmup`` calls, then the median of ``steps`` timed ones. Beside it,
in the same rounds (:func:`multigan.bench.time_medians`), the same generator written by hand in
``multigan/baselines/NAME.py`` (``make_generate``: eval mode, weight norm removed,
``torch.inference_mode``, always fp32, as a user of the reference code runs it), with its own
random weights; speed does not depend on the weights' values.

What one call makes, and so the unit:

* a vocoder (``gan.condition == "mel"``) vocodes ``batch_size`` log-mels of ``seconds`` of audio
  each (``round(seconds * sample_rate / hop)`` frames of standard-normal values: a convolution's
  speed does not depend on the values, and normal values keep clear of denormals). Its
  throughput is the real-time factor, ``x real time``: seconds of audio made per second;
* any other family draws ``batch_size`` samples from its own latent or token sampling
  (``gan.sample(n)``: images, clips, or whole sequences, token by token): ``samples/s``.

Each family is timed at batch 1 (a single request) and at a throughput batch
(:data:`VOCODER_BATCH` clips for vocoders, :data:`THROUGHPUT_BATCH` samples for the others,
unless given), in fp32 and in bf16 autocast by default. Rows carry the machine as the training
bench's do (:func:`multigan.bench.machine_fields`); a bf16 row measured on a CPU that emulates
bf16 is still measured, and :func:`format_table` marks it ``(emulated)``.
"""

from __future__ import annotations

import datetime
import platform
from dataclasses import asdict
from typing import Any, Callable, Sequence

import torch

from .bench import emulated_bf16, load_baseline, machine, machine_fields, time_medians
from .errors import ConfigError
from .gan import GAN
from .inference import inference_copy
from .precision import autocast, resolve_precision
from .registry import build
from .train.distributed import device_for

#: the precisions timed when none is asked for
PRECISIONS = ("32", "bf16-mixed")
#: clips a vocoder vocodes per call in the throughput rows
VOCODER_BATCH = 8
#: samples (images, clips, sequences) per call in the other families' throughput rows
THROUGHPUT_BATCH = 64
#: seconds of audio in each mel a vocoder is given
SECONDS = 2.0
REAL_TIME = "x real time"


def is_vocoder(gan: GAN) -> bool:
    """Whether ``gan`` vocodes log-mels (``condition == "mel"``, see :class:`multigan.AudioGAN`)."""
    return getattr(gan, "condition", None) == "mel"


def _in_precision(fn: Callable[[], Any], precision: str, device: torch.device) -> Callable[[], Any]:
    """``fn`` run under ``torch.inference_mode`` and the autocast of ``precision``."""
    def run() -> Any:
        with torch.inference_mode(), autocast(precision, device):
            return fn()
    return run


def _frames(gan: GAN, seconds: float) -> int:
    """Mel frames for ``seconds`` of audio: ``round(seconds * sample_rate / hop)``, at least 1."""
    return max(1, round(seconds * gan.sample_rate / gan.mel_config.hop_length))


def _generation(gan: GAN, batch_size: int, seconds: float) -> tuple[Callable[[], Any], float | None]:
    """(a call that generates one batch through ``gan.sample``, the seconds of audio each of its
    clips holds for a vocoder, else None)."""
    if not is_vocoder(gan):
        return lambda: gan.sample(batch_size, seed=0), None
    frames = _frames(gan, seconds)
    rng = torch.Generator().manual_seed(0)
    mel = torch.randn(batch_size, gan.mel_config.n_mels, frames, generator=rng).to(gan.device)
    return lambda: gan.sample(cond=mel, seed=0), frames * gan.mel_config.hop_length / gan.sample_rate


def bench_inference(name: str, batch_sizes: Sequence[int] | None = None, precisions: Sequence[str] = PRECISIONS,
                    steps: int = 10, warmup: int = 2, device: str = "auto", kernels: str = "auto",
                    overrides: dict[str, Any] | None = None, baseline: bool = True,
                    seconds: float = SECONDS) -> list[dict[str, Any]]:
    """Time family ``name``'s generation; one dict per (batch size, precision), see the module
    docstring.

    Args:
        name: a registered family.
        batch_sizes: the batch sizes to time (None: 1 and the family's throughput batch).
        precisions: each one of :data:`multigan.precision.PRECISIONS` (``"auto"`` resolves per
            machine). The plain forward always runs in fp32.
        steps, warmup: timed and untimed calls per row.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        kernels: ``"auto"`` or ``"eager"`` (:meth:`multigan.GAN.use_kernels`).
        overrides: family config overrides.
        baseline: time the plain forward of ``multigan/baselines/NAME.py`` too, where there is one.
        seconds: audio per mel a vocoder is given.

    Rows hold ``family``, ``batch_size``, ``unit`` (``"x real time"`` or ``"samples/s"``),
    ``throughput``, ``median_s``, ``baseline_throughput``, ``baseline_median_s``, ``speedup``
    (None without a baseline), ``input_seconds`` (a vocoder's audio per mel, else None),
    ``precision`` (what ran), ``precision_requested``, ``kernels``, ``device``, the machine
    (``machine``, ``cpu_capability``, ``bf16_native``, ``cpu_model``, ``cpu_threads``),
    ``steps``, ``warmup``, the versions and the date.
    """
    if steps < 1 or warmup < 0:
        raise ConfigError(f"bench needs steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    if not seconds > 0:
        raise ConfigError(f"seconds (--seconds) must be above 0: the audio per vocoded mel; got {seconds}")
    if batch_sizes is not None and (not batch_sizes or min(batch_sizes) < 1):
        raise ConfigError(f"batch sizes must be 1 or more, got {list(batch_sizes)}")
    if not precisions:
        raise ConfigError("bench --inference needs at least one precision")
    dev = device_for(device)
    resolved = [(p, resolve_precision(p, dev)[0]) for p in precisions]  # a bad precision stops here
    torch.manual_seed(0)
    gan = inference_copy(build(name, **(overrides or {})).use_kernels(kernels)).place(dev)
    vocoder = is_vocoder(gan)
    if batch_sizes is None:
        batch_sizes = (1, VOCODER_BATCH if vocoder else THROUGHPUT_BATCH)
    reference = load_baseline(name) if baseline else None
    rows = []
    for batch_size in dict.fromkeys(batch_sizes):
        sample, input_seconds = _generation(gan, batch_size, seconds)
        units = batch_size if input_seconds is None else batch_size * input_seconds  # samples, or seconds of audio
        if reference is not None:
            plain_generate, plain_units = reference.make_generate(asdict(gan.config), batch_size, dev,
                                                                  seconds=seconds)
        for requested, precision in resolved:
            ours = _in_precision(sample, precision, dev)
            timed = [ours] if reference is None else [ours, plain_generate]
            for _ in range(warmup):
                for fn in timed:
                    fn()
            medians = time_medians(timed, steps, dev)
            row = {"family": name, "batch_size": batch_size, "unit": REAL_TIME if vocoder else "samples/s",
                   "throughput": units / medians[0], "median_s": medians[0],
                   "baseline_throughput": None, "baseline_median_s": None, "speedup": None,
                   "input_seconds": input_seconds}
            if reference is not None:
                base_throughput = plain_units / medians[1]
                row.update(baseline_throughput=base_throughput, baseline_median_s=medians[1],
                           speedup=row["throughput"] / base_throughput)
            rows.append({**row, "precision": precision, "precision_requested": requested, "kernels": kernels,
                         "device": str(dev), "machine": machine(dev), **machine_fields(), "steps": steps,
                         "warmup": warmup, "torch": torch.__version__, "python": platform.python_version(),
                         "date": datetime.date.today().isoformat()})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of :func:`bench_inference` rows. ``plain fp32`` is the hand-written
    forward; a bf16 row measured on a CPU that emulates bf16 reads ``bf16-mixed (emulated)``;
    ``input s`` is a vocoder's audio per mel."""
    lines = ["| family | batch | unit | multigan | plain fp32 | speed-up | precision | input s | kernels | device "
             "| cpu |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | --- | --- | --- |"]
    for r in rows:
        base = "n/a" if r["baseline_throughput"] is None else f"{r['baseline_throughput']:.4g}"
        speed = "n/a" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        seconds = "" if r["input_seconds"] is None else f"{r['input_seconds']:.3g}"
        precision = f"{r['precision']}{' (emulated)' if emulated_bf16(r) else ''}"
        lines.append(f"| {r['family']} | {r['batch_size']} | {r['unit']} | {r['throughput']:.4g} | {base} | {speed} "
                     f"| {precision} | {seconds} | {r['kernels']} | {r['device']} | {r.get('cpu_capability') or 'n/a'} |")
    return "\n".join(lines)
