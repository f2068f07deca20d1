"""Multi-process training with torch.distributed: what the trainer needs of the process group.

One process is the world of size one, so the same code path serves single-process runs and
``torchrun`` launches. Gradients are averaged across processes by one all-reduce of each
network's flattened gradients after its backward pass (as stylegan2-ada-pytorch does), rather
than by wrapping the networks in ``DistributedDataParallel``: a GAN's updates run one network
through the other with its weights frozen, differentiate twice (the gradient penalty) and
call the networks several times per update, which DDP's hooks do not follow.
"""

from __future__ import annotations

import os
import random
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import ConfigError, MultiganError
from ..processes import is_main, rank, world_size  # noqa: F401  (part of this module's API)

#: torchrun sets these for every process it starts
_LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher setting its
    environment variables) as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and all(v in os.environ for v in _LAUNCH_VARIABLES)


def device_for(requested: str) -> torch.device:
    """The device this process trains on: ``"auto"`` is CUDA when available, else the CPU; under
    ``torchrun`` a bare ``"cuda"`` means this process's GPU, ``cuda:LOCAL_RANK``."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {requested!r} is not a device; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {requested!r}: CUDA is not available on this machine "
                          f"(torch {torch.__version__}); use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {requested!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {requested!r}: multigan trains on cpu or cuda")
    if device.type == "cuda" and device.index is None and launched():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def init(device: torch.device) -> bool:
    """Join the process group ``torchrun`` describes (gloo on the CPU, NCCL on CUDA), unless
    there is none or it is already initialised. Returns whether this call initialised it (and
    so should :func:`shut_down` it)."""
    if dist.is_initialized() or not launched():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # torch.distributed.nn's functions take ``group=group.WORLD`` as a default argument, so
    # importing it after the group exists (torch.optim imports it through torch._dynamo) keeps
    # the group alive past destroy_process_group. Its gloo worker threads then outlive the
    # interpreter, and one that frees the last collective's tensor during finalisation aborts
    # the process ("terminate called without an active exception"). Imported first, the
    # defaults are None and shut_down() really ends the group.
    import torch.distributed.nn  # noqa: F401
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def shut_down() -> None:
    """Leave the process group."""
    if dist.is_initialized():
        dist.destroy_process_group()


def seed_process(seed: int) -> None:
    """Seed Python, NumPy and torch for this process: with ``seed`` on rank 0 (so one process
    trains exactly as before), with a seed of its own on every other rank, so that randomness a
    rank draws for its own share of the batch (sampled sequences, crops, dropout) differs."""
    seed = seed + 1_000_003 * rank()
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def average_gradients(params: list[Tensor]) -> None:
    """Replace each gradient by its mean over all processes (one all-reduce)."""
    world = world_size()
    if world == 1 or not params:
        return
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process (so that every process takes the same branch)."""
    if world_size() == 1:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: dict[str, Tensor]) -> dict[str, Tensor]:
    """Logged scalars averaged over processes, so the logs describe the global batch."""
    if world_size() == 1 or not values:
        return values
    keys = list(values)
    t = torch.stack([values[k].float().reshape(()) for k in keys])
    dist.all_reduce(t)
    t /= world_size()
    return dict(zip(keys, t.unbind()))


def broadcast_from_main(tensors: Iterable[Tensor]) -> None:
    """Overwrite ``tensors`` on every process with rank 0's values (one flattened broadcast per
    dtype)."""
    if world_size() == 1:
        return
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    with torch.no_grad():
        for group in by_dtype.values():
            flat = torch.cat([t.detach().reshape(-1) for t in group])
            dist.broadcast(flat, src=0)
            offset = 0
            for t in group:
                t.copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()


def batchnorm_buffers(module: nn.Module) -> list[Tensor]:
    """The running statistics of ``module``'s unsynchronised BatchNorm layers: they differ
    across processes that normalised different data."""
    return [b for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, SyncBatchNorm)
            for b in m.buffers()]


def on_main_then_all(work: Callable[[], None], device: torch.device) -> None:
    """Run ``work`` on rank 0 only; if it raises a :class:`MultiganError`, every process raises
    (rank 0 its own error), so none is left waiting for the others."""
    error = None
    if is_main():
        try:
            work()
        except MultiganError as exc:
            error = exc
    if any_rank(error is not None, device):
        if error is not None:
            raise error
        raise MultiganError("rank 0 failed while preparing the run; its message says why")


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` from every process, in rank order (on every process)."""
    if world_size() == 1:
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


class _SumOverRanks(torch.autograd.Function):
    """``all_reduce(SUM)`` that autograd can differentiate: every rank's output depends on every
    rank's input, so the gradient is the sum of the output gradients over ranks."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch, on every device
    (``torch.nn.SyncBatchNorm`` runs on GPUs only). The mean and variance are computed from
    sums all-reduced across processes, differentiably; on one process it is plain BatchNorm.
    Made from an existing layer by :func:`sync_batchnorm`."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"SyncBatchNorm expects (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not self.training or world_size() == 1:
            return super().forward(x)
        x = x.float()  # statistics in float32, as autocast runs BatchNorm
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1] * world_size()
        mean = _SumOverRanks.apply(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = _SumOverRanks.apply(centred.square().sum(dims)) / count  # around the global mean: stable
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / max(count - 1, 1), momentum)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def sync_batchnorm(module: nn.Module) -> int:
    """Replace every BatchNorm layer inside ``module`` by a :class:`SyncBatchNorm` with the same
    parameters and statistics, in place; returns how many were replaced."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, SyncBatchNorm):
            sync = SyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                 child.track_running_stats, device=_device_of(child))
            sync.load_state_dict(child.state_dict())
            if child.affine:  # keep the very same Parameter objects (optimisers may hold them)
                sync.weight, sync.bias = child.weight, child.bias
            sync.train(child.training)
            setattr(module, name, sync)
            count += 1
        else:
            count += sync_batchnorm(child)
    return count


def _device_of(module: nn.Module) -> torch.device | None:
    for t in [*module.parameters(), *module.buffers()]:
        return t.device
    return None
