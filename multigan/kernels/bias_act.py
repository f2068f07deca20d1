"""Bias, activation, gain and clamp in one op (after StyleGAN2-ADA's ``bias_act``).

``y = clamp(act(x + b) * gain, -clamp, clamp)``, with ``b`` broadcast along one dimension of
``x``. Written as separate PyTorch ops this is up to four elementwise passes (and launches),
each reading and writing the whole tensor, and autograd keeps the intermediates it needs.

Reference: those PyTorch ops, computed in float32 (float64 for float64 inputs) and rounded once
to ``x``'s dtype. Fused: one Triton pass reads ``x`` and ``b`` and writes ``y``; for the backward
it saves only ``x`` and ``b``, no intermediate. The backward recomputes the pre-activation in a
second single pass that writes ``grad_x = grad * gain * act'(x + b)``, zero where the output
was clamped; ``grad_b`` is that summed over every dimension but ``dim``. When a graph of the
backward is recorded (``create_graph=True``, as the gradient penalty asks) the same gradient is
computed with differentiable PyTorch ops instead, so a double backward matches the reference's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, did_you_mean
from .dispatch import HAVE_TRITON, dispatch, grid_size

BLOCK = 1024
ACTIVATIONS = ("linear", "relu", "lrelu", "tanh", "sigmoid")


def bias_act(x: Tensor, b: Tensor | None = None, act: str = "linear", alpha: float | None = None,
             gain: float | None = None, clamp: float | None = None, dim: int = 1,
             impl: str = "auto") -> Tensor:
    """``act(x + b) * gain``, clamped to ``[-clamp, clamp]``, in ``x``'s dtype and shape.

    ``b`` (``(x.shape[dim],)``, or None for no bias) is added along dimension ``dim`` of ``x``
    (any rank; ``dim`` may be negative). ``act`` is one of :data:`ACTIVATIONS`; ``alpha`` is the
    negative slope of ``"lrelu"`` (default 0.2, ignored by the others). ``gain`` defaults to 1
    for every activation: unlike StyleGAN2 there is no implicit ``sqrt(2)``, the caller passes
    the gain it wants. ``clamp`` (None: no clamp) must not be negative. The arithmetic is done
    in float32 (float64 for float64 inputs). ``impl``: ``"ref"``, ``"triton"`` or ``"auto"``
    (see :mod:`multigan.kernels.dispatch`).
    """
    if act not in ACTIVATIONS:
        raise ConfigError(f"activation {act!r} is not supported; allowed: {', '.join(ACTIVATIONS)}."
                          f"{did_you_mean(str(act), ACTIVATIONS)}")
    if b is not None:
        if not -x.dim() <= dim < x.dim():
            raise ValueError(f"bias_act: dim {dim} is not a dimension of an input of shape {tuple(x.shape)}")
        dim %= x.dim()
        if tuple(b.shape) != (x.shape[dim],):
            raise ValueError(f"bias_act: a bias of shape {tuple(b.shape)} does not fit dimension {dim} of an "
                             f"input of shape {tuple(x.shape)}; it must have shape ({x.shape[dim]},)")
    if clamp is not None and clamp < 0:
        raise ValueError(f"bias_act: clamp must not be negative, got {clamp}")
    alpha = 0.2 if alpha is None else float(alpha)
    gain = 1.0 if gain is None else float(gain)
    clamp = None if clamp is None else float(clamp)
    return dispatch("bias_act", impl, x.device,
                    lambda: _BiasAct.apply(x, b, act, alpha, gain, clamp, dim),
                    lambda: _reference(x, b, act, alpha, gain, clamp, dim))


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _preactivation(x: Tensor, b: Tensor | None, dim: int) -> Tensor:
    v = x.to(_compute_dtype(x))
    if b is None:
        return v
    shape = [1] * x.dim()
    shape[dim] = -1
    return v + b.to(v.dtype).view(shape)


def _activation(v: Tensor, act: str, alpha: float) -> Tensor:
    if act == "relu":
        return F.relu(v)
    if act == "lrelu":
        return F.leaky_relu(v, alpha)
    if act == "tanh":
        return torch.tanh(v)
    if act == "sigmoid":
        return torch.sigmoid(v)
    return v


def _reference(x: Tensor, b: Tensor | None, act: str, alpha: float, gain: float, clamp: float | None,
               dim: int) -> Tensor:
    if b is None and gain == 1 and clamp is None:
        # PyTorch's activations compute in float32 inside and round once: the same result as the
        # general path below, without its dtype round trip (this is the eager CPU hot path)
        return _activation(x, act, alpha)
    y = _activation(_preactivation(x, b, dim), act, alpha)
    if gain != 1:
        y = y * gain
    if clamp is not None:
        y = y.clamp(-clamp, clamp)
    return y.to(x.dtype)


def _reference_grad(grad: Tensor, x: Tensor, b: Tensor | None, act: str, alpha: float, gain: float,
                    clamp: float | None, dim: int) -> Tensor:
    """d(loss)/d(x + b) in the compute dtype, differentiable in ``grad``, ``x`` and ``b``."""
    v = _preactivation(x, b, dim)
    a = _activation(v, act, alpha)
    if act == "relu":
        slope = (v > 0).to(v.dtype)
    elif act == "lrelu":
        slope = torch.where(v > 0, 1.0, alpha).to(v.dtype)
    elif act == "tanh":
        slope = 1 - a * a
    elif act == "sigmoid":
        slope = a * (1 - a)
    else:
        slope = torch.ones_like(v)
    g = grad.to(v.dtype) * gain * slope
    if clamp is not None:  # clamp passes the gradient where its input was inside [-clamp, clamp]
        u = (a * gain).detach()
        g = g * ((u >= -clamp) & (u <= clamp)).to(v.dtype)
    return g


def _sum_to_bias(g: Tensor, dim: int, dtype: torch.dtype) -> Tensor:
    """``g`` summed in ``dtype`` over every dimension but ``dim``."""
    others = [d for d in range(g.dim()) if d != dim]
    return g.sum(others, dtype=dtype) if others else g.to(dtype)  # sum over [] would sum everything


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, b: Tensor | None, act: str, alpha: float, gain: float, clamp: float | None,
                dim: int) -> Tensor:
        # the inputs themselves, not contiguous copies: a double backward must reach them
        ctx.save_for_backward(x, b)
        ctx.options = (act, alpha, gain, clamp, dim)
        return _launch(_forward_kernel, x, b, None, *ctx.options)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, b = ctx.saved_tensors
        act, alpha, gain, clamp, dim = ctx.options
        if torch.is_grad_enabled():  # a graph of the backward is asked for: differentiable formula
            grad_v = _reference_grad(grad, x, b, act, alpha, gain, clamp, dim)
            grad_x = grad_v.to(x.dtype)
        else:
            grad_x = grad_v = _launch(_backward_kernel, x, b, grad, act, alpha, gain, clamp, dim)
        grad_b = None
        if b is not None and ctx.needs_input_grad[1]:
            grad_b = _sum_to_bias(grad_v, dim, _compute_dtype(x)).to(b.dtype)
        return (grad_x if ctx.needs_input_grad[0] else None), grad_b, None, None, None, None, None


def _launch(kernel, x: Tensor, b: Tensor | None, grad: Tensor | None, act: str, alpha: float, gain: float,
            clamp: float | None, dim: int) -> Tensor:
    """Run the forward kernel (``grad`` None) or the backward kernel over ``x``: a tensor like ``x``."""
    x = x.contiguous()
    out = torch.empty_like(x)
    channels = x.shape[dim] if b is not None else 1
    inner = math.prod(x.shape[dim + 1:]) if b is not None else 1
    # an absent bias or grad is never read (HAS_BIAS, or the forward kernel): any pointer will do
    bias = b.contiguous() if b is not None else x
    tensors = (x, bias, out) if grad is None else (grad.contiguous(), x, bias, out)
    kernel[(grid_size(x.numel(), BLOCK),)](
        *tensors, x.numel(), inner, channels, alpha, gain, 0.0 if clamp is None else clamp,
        ACT=act, HAS_BIAS=b is not None, HAS_CLAMP=clamp is not None,
        COMPUTE=tl.float64 if x.dtype == torch.float64 else tl.float32, BLOCK=BLOCK)
    return out


if HAVE_TRITON:
    import triton
    import triton.language as tl

    from .triton_math import sigmoid as _sigmoid

    @triton.jit
    def _load_preactivation(x_ptr, b_ptr, i, inside, inner, channels, HAS_BIAS: tl.constexpr,
                            COMPUTE: tl.constexpr):
        v = tl.load(x_ptr + i, mask=inside, other=0.0).to(COMPUTE)
        if HAS_BIAS:
            v += tl.load(b_ptr + (i // inner) % channels, mask=inside, other=0.0).to(COMPUTE)
        return v

    @triton.jit
    def _tanh(v):
        # tanh|v| = -m / (2 + m) with m = expm1(-2|v|); expm1 by Kahan's trick, exact near 0
        # where 1 - exp(-2|v|) would cancel
        w = -2.0 * tl.abs(v)
        u = tl.exp(w)
        um1 = u - 1.0
        safe = (u != 1.0) & (um1 != -1.0)
        m = tl.where(safe, um1 * w / tl.log(tl.where(safe, u, 0.5)), tl.where(u == 1.0, w, -1.0))
        t = -m / (2.0 + m)
        return tl.where(v < 0, -t, t)

    @triton.jit
    def _activate(v, alpha, ACT: tl.constexpr):
        if ACT == "relu":
            a = tl.maximum(v, 0.0)
        elif ACT == "lrelu":
            a = tl.where(v > 0, v, v * alpha)
        elif ACT == "tanh":
            a = _tanh(v)
        elif ACT == "sigmoid":
            a = _sigmoid(v)
        else:
            a = v
        return a

    @triton.jit
    def _forward_kernel(x_ptr, b_ptr, out_ptr, n, inner, channels, alpha, gain, clamp, ACT: tl.constexpr,
                        HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr, COMPUTE: tl.constexpr,
                        BLOCK: tl.constexpr):
        i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inside = i < n
        v = _load_preactivation(x_ptr, b_ptr, i, inside, inner, channels, HAS_BIAS, COMPUTE)
        y = _activate(v, alpha, ACT) * gain
        if HAS_CLAMP:
            y = tl.minimum(tl.maximum(y, -clamp), clamp)
        tl.store(out_ptr + i, y.to(out_ptr.dtype.element_ty), mask=inside)

    @triton.jit
    def _backward_kernel(grad_ptr, x_ptr, b_ptr, out_ptr, n, inner, channels, alpha, gain, clamp,
                         ACT: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr,
                         COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
        i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inside = i < n
        v = _load_preactivation(x_ptr, b_ptr, i, inside, inner, channels, HAS_BIAS, COMPUTE)
        a = _activate(v, alpha, ACT)
        g = tl.load(grad_ptr + i, mask=inside, other=0.0).to(COMPUTE) * gain
        # the slopes PyTorch's autograd uses: relu's is 0 at 0, leaky relu's is alpha at 0
        if ACT == "relu":
            g = tl.where(v > 0, g, 0.0)
        elif ACT == "lrelu":
            g = tl.where(v > 0, g, g * alpha)
        elif ACT == "tanh":
            g = g * (1.0 - a * a)
        elif ACT == "sigmoid":
            g = g * a * (1.0 - a)
        if HAS_CLAMP:
            u = a * gain
            g = tl.where((u >= -clamp) & (u <= clamp), g, 0.0)
        tl.store(out_ptr + i, g.to(out_ptr.dtype.element_ty), mask=inside)
