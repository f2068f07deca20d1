"""Choosing between an op's plain-PyTorch reference and its fused Triton kernel.

Every op in :mod:`multigan.kernels` takes ``impl=``:

- ``"ref"``: the reference, plain PyTorch (the specification; differentiable to any order);
- ``"triton"``: the fused kernel. On CUDA tensors; on CPU tensors only when ``TRITON_INTERPRET=1``
  was set before multigan was imported (Triton's interpreter, how the tests run it without a GPU);
- ``"auto"`` (the default): the fused kernel on CUDA when Triton is installed, the reference
  elsewhere. A kernel that fails to compile or launch under ``"auto"`` is reported once with a
  warning and the reference is used from then on: a broken toolchain slows a run, never stops it.

The fused ops' backward passes run their kernels when no graph is being recorded, and the
reference's differentiable formula when one is (``create_graph=True``, as the gradient penalty
asks), so a double backward through a fused op is always available and always exact.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Callable, TypeVar

import torch

from ..errors import ConfigError, did_you_mean, warn

IMPLS = ("auto", "ref", "triton")
HAVE_TRITON = importlib.util.find_spec("triton") is not None
# Triton decides at decoration time whether its kernels are compiled or interpreted
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"

T = TypeVar("T")
_broken: set[str] = set()  # ops whose kernel failed under "auto"


def check_impl(impl: str) -> str:
    """``impl`` if it names an implementation, else a ConfigError listing them."""
    if impl not in IMPLS:
        raise ConfigError(f"impl {impl!r} is not an implementation; allowed: "
                          f"{', '.join(IMPLS)}.{did_you_mean(str(impl), IMPLS)}")
    return impl


def triton_runs_on(device: torch.device) -> bool:
    """Whether a Triton kernel can run on tensors of ``device`` in this process."""
    return HAVE_TRITON and (device.type == "cuda" or (INTERPRET and device.type == "cpu"))


def fused_runs(name: str, impl: str, device: torch.device) -> bool:
    """Whether op ``name`` called with ``impl`` on tensors of ``device`` would run its kernel."""
    if check_impl(impl) == "triton":
        return True
    return impl == "auto" and device.type == "cuda" and HAVE_TRITON and name not in _broken


def dispatch(name: str, impl: str, device: torch.device, fused: Callable[[], T], ref: Callable[[], T]) -> T:
    """Run op ``name``'s ``fused`` or ``ref`` thunk on tensors of ``device``, as ``impl`` says."""
    check_impl(impl)
    if impl == "ref":
        return ref()
    if impl == "triton":
        if not triton_runs_on(device):
            why = ("Triton is not installed" if not HAVE_TRITON else
                   f"its tensors are on {device.type}: Triton kernels need CUDA tensors, or "
                   f"TRITON_INTERPRET=1 set before importing multigan to run them on the CPU")
            raise ConfigError(f"{name}(impl='triton') cannot run: {why}. impl='auto' picks what can.")
        return fused()
    if device.type != "cuda" or not HAVE_TRITON or name in _broken:
        return ref()
    try:
        return fused()
    except Exception as error:  # noqa: BLE001 - any compile or launch failure: fall back, loudly
        _broken.add(name)
        warn(f"kernels.{name}: the Triton kernel failed ({type(error).__name__}: {error}); "
             f"using the PyTorch reference from now on")
        return ref()


def grid_size(n: int, block: int) -> int:
    """Programs needed to cover ``n`` elements in blocks of ``block``."""
    return max(1, -(-n // block))
