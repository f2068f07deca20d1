"""WaveGAN's phase shuffle (Donahue et al. 2019, section 3.3).

Each example's feature map is shifted in time by its own integer in ``[-n, n]``; the samples
shifted in at an edge are the reflection of the signal about that edge, so no zeros leak in.

Reference: one gather over a reflected index map does all examples at once. Fused: one Triton
pass reads each output's source directly; its backward, instead of scattering with atomics,
lets each input position collect the (at most three) outputs that read it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .dispatch import HAVE_TRITON, dispatch, grid_size

BLOCK = 1024


def phase_shuffle(x: Tensor, n: int, shifts: Tensor | None = None, impl: str = "auto") -> Tensor:
    """Shift each example of ``x`` (N, C, L) by ``shifts`` (N,) samples, reflecting at the edges.

    ``out[b, :, t] = x[b, :, reflect(t - shifts[b])]``. With ``shifts=None`` they are drawn
    uniformly from ``[-n, n]`` with the global torch RNG. ``n`` must be smaller than ``L``.
    ``impl``: ``"ref"``, ``"triton"`` or ``"auto"`` (see :mod:`multigan.kernels.dispatch`).
    """
    batch, _, length = x.shape
    if shifts is None:
        shifts = torch.randint(-n, n + 1, (batch,), device=x.device)
    if n == 0:
        return x
    if n >= length:
        raise ValueError(f"phase shuffle of {n} needs feature maps longer than {n}, got {length}")
    shifts = shifts.to(x.device)
    return dispatch("phase_shuffle", impl, x.device,
                    lambda: _PhaseShuffle.apply(x, shifts), lambda: _reference(x, shifts))


def _source_index(shifts: Tensor, length: int) -> Tensor:
    """(N, L): the input position each output position reads."""
    index = torch.arange(length, device=shifts.device) - shifts.view(-1, 1)
    index = index.abs()                                                       # reflect about the left edge
    return torch.where(index > length - 1, 2 * (length - 1) - index, index)  # and the right edge


def _reference(x: Tensor, shifts: Tensor) -> Tensor:
    index = _source_index(shifts, x.shape[2])
    return x.gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))


def _reference_adjoint(grad: Tensor, shifts: Tensor) -> Tensor:
    """The gradient with respect to the input: each output's gradient added to its source."""
    index = _source_index(shifts, grad.shape[2]).unsqueeze(1).expand(-1, grad.shape[1], -1)
    return torch.zeros_like(grad).scatter_add(2, index, grad)


class _PhaseShuffle(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, shifts: Tensor) -> Tensor:
        ctx.save_for_backward(shifts)
        return _launch(x, shifts, adjoint=False)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (shifts,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the backward is asked for: differentiable formula
            return _reference_adjoint(grad, shifts), None
        return _launch(grad, shifts, adjoint=True), None


def _launch(x: Tensor, shifts: Tensor, adjoint: bool) -> Tensor:
    x = x.contiguous()
    batch, channels, length = x.shape
    out = torch.empty_like(x)
    kernel = _adjoint_kernel if adjoint else _forward_kernel
    kernel[(batch * channels, grid_size(length, BLOCK))](x, out, shifts.to(torch.int32).contiguous(),
                                                         channels, length, BLOCK=BLOCK)
    return out


if HAVE_TRITON:
    import triton
    import triton.language as tl

    @triton.jit
    def _forward_kernel(x_ptr, out_ptr, shift_ptr, channels, length, BLOCK: tl.constexpr):
        row = tl.program_id(0)  # one (example, channel) row per program along axis 0
        t = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        inside = t < length
        shift = tl.load(shift_ptr + row // channels)
        source = tl.abs(t - shift)
        source = tl.where(source > length - 1, 2 * (length - 1) - source, source)
        base = row.to(tl.int64) * length
        tl.store(out_ptr + base + t, tl.load(x_ptr + base + source, mask=inside), mask=inside)

    @triton.jit
    def _adjoint_kernel(grad_ptr, out_ptr, shift_ptr, channels, length, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        s = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        inside = s < length
        shift = tl.load(shift_ptr + row // channels)
        base = row.to(tl.int64) * length
        # output t reads s when t - shift == s, or reflects onto s: t - shift == -s (left edge,
        # s > 0) or t - shift == 2 (L - 1) - s (right edge, s < L - 1); |shift| < L, so no more
        direct, left, right = s + shift, shift - s, 2 * (length - 1) - s + shift
        use_direct = inside & (direct >= 0) & (direct < length)
        use_left = inside & (s > 0) & (left >= 0) & (left < length)
        use_right = inside & (s < length - 1) & (right >= 0) & (right < length)
        total = tl.load(grad_ptr + base + direct, mask=use_direct, other=0.0).to(tl.float32)
        total += tl.load(grad_ptr + base + left, mask=use_left, other=0.0).to(tl.float32)
        total += tl.load(grad_ptr + base + right, mask=use_right, other=0.0).to(tl.float32)
        tl.store(out_ptr + base + s, total.to(out_ptr.dtype.element_ty), mask=inside)
