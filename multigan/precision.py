"""Numeric precision that fits the machine: what ``precision="auto"`` picks, and why.

bf16 autocast is fast on CUDA GPUs that support it and on CPUs with native bf16 instructions
(AVX-512 BF16, AMX). On a CPU without them (AVX2 only, many AMD and older Intel parts) oneDNN
emulates bf16, and a bf16 convolution or matrix product runs about 25 to 85 times slower
than fp32 (measured on a 2-core AVX2 EPYC: 24x for a convolution, 83x for a 1024x1024 matrix
product).
So ``"auto"`` takes bf16-mixed only where it is native, and fp32 everywhere else; an explicit
``"bf16-mixed"`` on an emulating CPU still runs, with a warning (docs/concepts.md, "Precision").

:func:`choose_precision` is a pure function of the device type and the capability flags, so
both branches can be tested on any machine; :func:`resolve_precision` feeds it this machine's.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ConfigError, did_you_mean

#: what the trainer, the CLI, the recipes and ``multigan bench`` accept
PRECISIONS = ("auto", "32", "bf16-mixed", "16-mixed")
#: the slowdown of emulated bf16 against fp32 measured on a 2-core AVX2 CPU: 24x for a convolution,
#: 83x for a matrix product (see the module docstring)
EMULATED_BF16_SLOWDOWN = "about 25-85x"


@dataclass(frozen=True)
class CPUInfo:
    """What this CPU offers: torch's capability string (``"AVX2"``, ``"AVX512"``, ...), whether
    oneDNN runs bf16 natively, the model name and the threads torch uses."""

    capability: str
    bf16_native: bool
    model: str
    threads: int


@functools.lru_cache(maxsize=1)
def cpu_info() -> CPUInfo:
    """This machine's :class:`CPUInfo` (cached: the answers do not change within a process)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return CPUInfo(capability=torch.backends.cpu.get_cpu_capability(),
                   bf16_native=bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
                   model=model, threads=torch.get_num_threads())


def choose_precision(device_type: str, *, cuda_bf16: bool = False, cpu_bf16_native: bool = False,
                     cpu_capability: str = "") -> tuple[str, str]:
    """The precision ``"auto"`` means on a device, and the reason in words.

    Args:
        device_type: ``"cuda"``, ``"cpu"`` or another ``torch.device`` type.
        cuda_bf16: whether the CUDA device supports bf16 (``torch.cuda.is_bf16_supported()``).
        cpu_bf16_native: whether the CPU runs bf16 natively (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``).
        cpu_capability: torch's name of the CPU's vector extensions, for the reason.

    Returns ``("bf16-mixed", reason)`` on a CUDA device with bf16 or a CPU with native bf16,
    else ``("32", reason)``.
    """
    if device_type == "cuda":
        if cuda_bf16:
            return "bf16-mixed", "this GPU supports bf16"
        return "32", "this GPU does not support bf16"
    if device_type == "cpu":
        if cpu_bf16_native:
            return "bf16-mixed", f"this CPU runs bf16 natively: {cpu_capability or 'bf16 instructions'}"
        return "32", f"this CPU emulates bf16: {cpu_capability or 'no bf16 instructions'}"
    return "32", f"bf16 autocast is not used on {device_type} devices"


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a :class:`ConfigError` listing them."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not supported; allowed: {', '.join(PRECISIONS)}."
                          + did_you_mean(str(precision), PRECISIONS))
    return precision


def resolve_precision(precision: str, device: torch.device) -> tuple[str, str | None, str | None]:
    """What to run ``precision`` as on ``device``: ``(precision, reason, warning)``.

    ``"auto"`` becomes :func:`choose_precision`'s answer for this machine, with its reason. An
    explicit ``"bf16-mixed"`` on a CPU that emulates bf16 stays, with a one-line warning. An
    explicit ``"16-mixed"`` off CUDA is a :class:`ConfigError`.
    """
    check_precision(precision)
    if precision == "16-mixed" and device.type != "cuda":
        raise ConfigError("precision '16-mixed' needs a CUDA device; on the CPU use 'bf16-mixed' or '32' "
                          "(or 'auto')")
    if precision == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        info = cpu_info() if device.type == "cpu" else None
        chosen, reason = choose_precision(device.type, cuda_bf16=cuda_bf16,
                                          cpu_bf16_native=bool(info and info.bf16_native),
                                          cpu_capability=info.capability if info else "")
        return chosen, reason, None
    if precision == "bf16-mixed" and device.type == "cpu" and not cpu_info().bf16_native:
        return precision, None, (f"this CPU emulates bf16 ({cpu_info().capability}): bf16-mixed runs "
                                 f"{EMULATED_BF16_SLOWDOWN} slower than fp32 here; use --precision 32 "
                                 "(or auto) for speed")
    return precision, None, None


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device`` (bf16 or fp16), or nothing
    for ``"32"``: how the trainer and the inference benchmark run mixed precision."""
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16-mixed" else torch.float16)
