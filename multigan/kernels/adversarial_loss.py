"""The adversarial losses of :mod:`multigan.losses`, each input read once for value and gradient.

Every loss there is a mean over the discriminator's outputs of an elementwise function of each
output (``softplus(-z)``, ``relu(1 - z)``, ``(z - 1)^2 / 2``, ...). As PyTorch ops, the forward
makes a pass or two per term and autograd's backward makes as many again over the same logits.

Reference: :func:`multigan.losses.discriminator_loss` and :func:`~multigan.losses.generator_loss`
themselves. Fused: one Triton pass per input tensor writes, per block, the partial sum of the
elementwise losses and, per element, ``d(loss)/d(logit)`` (already divided by the element
count); the forward adds up the partials and saves those gradients, and the backward only
scales them by the incoming gradient: no second pass over the logits. When a graph of the
backward is recorded (``create_graph=True``) the gradient is instead taken through the
reference, recomputed from the saved logits, so a double backward is the reference's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, did_you_mean
from ..losses import discriminator_loss, generator_loss
from .dispatch import HAVE_TRITON, dispatch, grid_size

BLOCK = 1024

#: kind -> the elementwise terms of (D's loss on real logits, D's loss on fake logits, G's loss on
#: fake logits), each averaged over its tensor; they spell out multigan.losses.ADVERSARIAL_LOSSES
_TERMS = {
    "non_saturating": ("softplus_neg", "softplus", "softplus_neg"),
    "minimax": ("softplus_neg", "softplus", "neg_softplus"),
    "hinge": ("hinge_real", "hinge_fake", "neg"),
    "wasserstein": ("neg", "pos", "neg"),
    "least_squares": ("half_square_minus_one", "half_square", "half_square_minus_one"),
}
KINDS = tuple(_TERMS)


def adversarial_loss(real_logits: Tensor | None, fake_logits: Tensor, kind: str,
                     impl: str = "auto") -> Tensor:
    """The adversarial loss of ``kind`` (a key of ``multigan.losses.ADVERSARIAL_LOSSES``), float32 scalar.

    With ``real_logits`` given it is the discriminator's loss,
    ``multigan.losses.discriminator_loss(kind, real_logits, fake_logits)``; with
    ``real_logits=None`` it is the generator's loss on ``fake_logits``,
    ``multigan.losses.generator_loss(kind, fake_logits)``. Each tensor is averaged over all its
    elements, so any shapes work (patch maps, critic values (N,)) and the two need not match.
    The arithmetic is float32 whatever the logits' dtype; their gradients come in their dtype.
    ``impl``: ``"ref"``, ``"triton"`` or ``"auto"`` (see :mod:`multigan.kernels.dispatch`).
    """
    if kind not in _TERMS:
        raise ConfigError(f"adversarial loss {kind!r} is not known; allowed: {', '.join(KINDS)}."
                          f"{did_you_mean(str(kind), KINDS)}")
    return dispatch("adversarial_loss", impl, fake_logits.device,
                    lambda: _AdversarialLoss.apply(kind, torch.is_grad_enabled(), real_logits, fake_logits),
                    lambda: _reference(kind, real_logits, fake_logits))


def _reference(kind: str, real: Tensor | None, fake: Tensor) -> Tensor:
    return generator_loss(kind, fake) if real is None else discriminator_loss(kind, real, fake)


class _AdversarialLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kind: str, grad_enabled: bool, real: Tensor | None, fake: Tensor) -> Tensor:
        real_term, fake_term, generator_term = _TERMS[kind]
        terms = (None, generator_term) if real is None else (real_term, fake_term)
        loss = torch.zeros((), dtype=torch.float32, device=fake.device)
        grads = []
        # grad_enabled: whether the caller records a graph (in here it is always off)
        for logits, term, needed in zip((real, fake), terms, ctx.needs_input_grad[2:]):
            if logits is None:
                grads.append(None)
                continue
            term_loss, grad = _launch(logits, term, write_grad=grad_enabled and needed)
            loss += term_loss
            grads.append(grad)
        ctx.kind = kind
        ctx.save_for_backward(real, fake, *grads)
        return loss

    @staticmethod
    def backward(ctx, grad: Tensor):
        real, fake, grad_real, grad_fake = ctx.saved_tensors
        needed = ctx.needs_input_grad[2:]
        if torch.is_grad_enabled():  # a graph of the backward is asked for: through the reference
            inputs = [t for t, need in zip((real, fake), needed) if need]
            loss = _reference(ctx.kind, real, fake)
            found = iter(torch.autograd.grad(loss, inputs, grad, create_graph=True))
            return (None, None) + tuple(next(found) if need else None for need in needed)
        saved = (grad_real, grad_fake)
        return (None, None) + tuple(g * grad if need else None for g, need in zip(saved, needed))


def _launch(logits: Tensor, term: str, write_grad: bool) -> tuple[Tensor, Tensor | None]:
    """The mean of ``term`` over ``logits``, and its gradient when ``write_grad`` (else None)."""
    z = logits.contiguous()
    n = z.numel()
    programs = grid_size(n, BLOCK)
    partials = torch.empty(programs, dtype=torch.float32, device=z.device)
    grad = torch.empty_like(z) if write_grad else None
    _loss_kernel[(programs,)](z, partials, partials if grad is None else grad, n, 1.0 / max(n, 1),
                              TERM=term, WRITE_GRAD=write_grad, BLOCK=BLOCK)
    return partials.sum() / n, grad  # n = 0: nan, as the reference's mean


if HAVE_TRITON:
    import triton
    import triton.language as tl

    from .triton_math import sigmoid as _sigmoid

    @triton.jit
    def _softplus(z):
        # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)); log1p by Goldberg's trick, exact for
        # the tiny arguments where log(1 + e) would round to 0
        e = tl.exp(-tl.abs(z))
        u = 1.0 + e
        log1p = tl.where(u == 1.0, e, tl.log(u) * (e / tl.where(u == 1.0, 1.0, u - 1.0)))
        return tl.maximum(z, 0.0) + log1p

    # one term's elementwise loss and its derivative, with the slopes PyTorch's autograd takes
    @triton.jit
    def _term(z, TERM: tl.constexpr):
        if TERM == "softplus_neg":       # -log sigmoid(z)
            loss = _softplus(-z)
            grad = -_sigmoid(-z)
        elif TERM == "softplus":         # -log(1 - sigmoid(z))
            loss = _softplus(z)
            grad = _sigmoid(z)
        elif TERM == "neg_softplus":     # log(1 - sigmoid(z))
            loss = -_softplus(z)
            grad = -_sigmoid(z)
        elif TERM == "hinge_real":       # relu(1 - z); relu's slope at 0 is 0
            loss = tl.maximum(1.0 - z, 0.0)
            grad = tl.where(1.0 - z > 0, -1.0, 0.0)
        elif TERM == "hinge_fake":       # relu(1 + z)
            loss = tl.maximum(1.0 + z, 0.0)
            grad = tl.where(1.0 + z > 0, 1.0, 0.0)
        elif TERM == "neg":
            loss = -z
            grad = tl.full(z.shape, -1.0, tl.float32)
        elif TERM == "pos":
            loss = z
            grad = tl.full(z.shape, 1.0, tl.float32)
        elif TERM == "half_square_minus_one":
            loss = 0.5 * (z - 1.0) * (z - 1.0)
            grad = z - 1.0
        else:                            # "half_square"
            loss = 0.5 * z * z
            grad = z
        return loss, grad

    @triton.jit
    def _loss_kernel(z_ptr, partial_ptr, grad_ptr, n, inv_n, TERM: tl.constexpr, WRITE_GRAD: tl.constexpr,
                     BLOCK: tl.constexpr):
        block = tl.program_id(0)
        i = block.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        inside = i < n
        z = tl.load(z_ptr + i, mask=inside, other=0.0).to(tl.float32)
        loss, grad = _term(z, TERM)
        tl.store(partial_ptr + block, tl.sum(tl.where(inside, loss, 0.0), axis=0))
        if WRITE_GRAD:
            tl.store(grad_ptr + i, (grad * inv_n).to(grad_ptr.dtype.element_ty), mask=inside)
