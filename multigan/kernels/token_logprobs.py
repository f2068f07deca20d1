"""The log-probability of chosen tokens under a linear output layer and a softmax.

``token_logprobs(hidden, weight, bias, tokens)`` is ``log_softmax(hidden @ weight.T + bias)``
picked at ``tokens``: what a language model's teacher-forced likelihood and SeqGAN's policy
gradient need from the output projection, one number per position.

Reference: the plain formula, which materialises every position's logits over the vocabulary
(rows x V floats: 1,280 positions x 50,257 tokens is a quarter of a gigabyte in fp32, and as
much again for their gradient). Fused forward: one Triton kernel per block of rows walks the
vocabulary in chunks, computing a tile of logits with ``tl.dot``, folding it into a running
(max, sum of exponentials) logsumexp and picking up the chosen token's logit as its chunk
passes; it writes one log-probability and one logsumexp per row, never the logits.

Backward, with ``g`` the incoming gradient and ``p = softmax(logits)``, the logits' gradient is
``g * (onehot(token) - p)``. It is applied chunk by chunk over the vocabulary with torch matmuls
(cuBLAS does matmuls best): each chunk's ``p`` is recomputed from the saved logsumexp, so only a
(rows x chunk) block exists at a time, and the one-hot part is added at each row's token by
indexing. When a graph of the backward is asked for (``create_graph=True``) a differentiable
formula over the full logits is used instead, so double backward is exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .dispatch import HAVE_TRITON, INTERPRET, dispatch, grid_size

DTYPES = (torch.float32, torch.bfloat16, torch.float16)
# Triton's CPU interpreter pays per operation rather than per element: it gets larger blocks
BLOCK_V = 256 if INTERPRET else 128  # vocabulary columns per step of the forward kernel
BLOCK_K = 64                           # hidden features per tl.dot
# the most logits the backward holds at once (rows x chunk); a chunk has at least MIN_CHUNK columns
CHUNK_ELEMENTS = 1 << 22
MIN_CHUNK = 256


def token_logprobs(hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor,
                   impl: str = "auto") -> Tensor:
    """``log_softmax(hidden @ weight.T + bias)`` at ``tokens``: float32, of ``tokens``' shape.

    ``hidden`` (..., H); ``weight`` (V, H) and ``bias`` (V,) or None, as ``nn.Linear`` holds them;
    ``tokens`` (...) integer ids in ``[0, V)`` with ``hidden``'s leading shape. ``hidden`` and
    ``weight`` are float32, bfloat16 or float16 (the products are summed in float32, and differing
    dtypes are both taken to float32). Differentiable with respect to ``hidden``, ``weight`` and
    ``bias``, to any order. Checking the token ids reads them on the host (a sync on a GPU).
    ``impl``: ``"ref"``, ``"triton"`` or ``"auto"`` (see :mod:`multigan.kernels.dispatch`).
    """
    _check(hidden, weight, bias, tokens)
    tokens = tokens.long()
    if hidden.dtype != weight.dtype:
        hidden, weight = hidden.float(), weight.float()

    def fused() -> Tensor:
        rows = _TokenLogprobs.apply(hidden.reshape(-1, hidden.shape[-1]), weight, bias, tokens.reshape(-1))
        return rows.reshape(tokens.shape)

    return dispatch("token_logprobs", impl, hidden.device, fused, lambda: _reference(hidden, weight, bias, tokens))


def _check(hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor) -> None:
    shapes = (f"hidden {tuple(hidden.shape)}, weight {tuple(weight.shape)}, "
              f"bias {None if bias is None else tuple(bias.shape)}, tokens {tuple(tokens.shape)}")
    if hidden.dim() < 1 or weight.dim() != 2 or hidden.shape[-1] != weight.shape[1]:
        raise ValueError(f"token_logprobs takes hidden (..., H) and weight (V, H); got {shapes}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"token_logprobs takes bias (V,) for weight (V, H); got {shapes}")
    if tuple(tokens.shape) != tuple(hidden.shape[:-1]):
        raise ValueError(f"token_logprobs takes tokens of hidden's leading shape; got {shapes}")
    for name, tensor in (("hidden", hidden), ("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.dtype not in DTYPES:
            raise ValueError(f"token_logprobs takes float32, bfloat16 or float16 {name}, got {tensor.dtype}")
    if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        raise ValueError(f"token_logprobs takes integer token ids, got {tokens.dtype}")
    if tokens.numel():
        low, high = torch.stack(torch.aminmax(tokens)).tolist()
        if low < 0 or high >= weight.shape[0]:
            raise ValueError(f"token ids must lie in [0, {weight.shape[0]}) for a vocabulary of "
                             f"{weight.shape[0]}; got ids from {low} to {high}")


def _reference(hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor) -> Tensor:
    logits = F.linear(hidden.float(), weight.float(), None if bias is None else bias.float())
    return -F.cross_entropy(logits.reshape(-1, weight.shape[0]), tokens.reshape(-1),
                            reduction="none").reshape(tokens.shape)


def _reference_grads(grad: Tensor, hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor
                     ) -> tuple[Tensor, Tensor, Tensor | None]:
    """The gradients for (hidden (M, H), weight, bias), differentiable: the logits are materialised."""
    logits = F.linear(hidden.float(), weight.float(), None if bias is None else bias.float())
    d_logits = grad[:, None] * (F.one_hot(tokens, weight.shape[0]) - logits.softmax(dim=1))
    return (d_logits @ weight.float(), d_logits.T @ hidden.float(),
            None if bias is None else d_logits.sum(dim=0))


def _chunked_grads(grad: Tensor, hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor,
                   lse: Tensor, need: tuple[bool, bool, bool]) -> tuple[Tensor | None, ...]:
    """The same gradients a vocabulary chunk at a time, from the forward's logsumexp; float32."""
    vocab = weight.shape[0]
    hidden32, grad = hidden.float(), grad.float()
    d_hidden = torch.zeros_like(hidden32) if need[0] else None
    d_weight = torch.empty(weight.shape, dtype=torch.float32, device=weight.device) if need[1] else None
    d_bias = torch.empty(vocab, dtype=torch.float32, device=weight.device) if need[2] else None
    chunk = max(MIN_CHUNK, CHUNK_ELEMENTS // max(1, hidden.shape[0]))
    for start in range(0, vocab, chunk):
        w = weight[start:start + chunk].float()
        logits = hidden32 @ w.T
        if bias is not None:
            logits += bias[start:start + chunk].float()
        gp = logits.sub_(lse[:, None]).exp_().mul_(grad[:, None])  # g * p, which enters negated
        if d_hidden is not None:
            d_hidden.sub_(gp @ w)
        if d_weight is not None:
            torch.mm(gp.T, hidden32, out=d_weight[start:start + chunk]).neg_()
        if d_bias is not None:
            torch.sum(gp, dim=0, out=d_bias[start:start + chunk]).neg_()
    # the one-hot part: + g at each row's token
    if d_hidden is not None:
        d_hidden.add_(grad[:, None] * weight[tokens].float())
    if d_weight is not None:
        d_weight.index_add_(0, tokens, grad[:, None] * hidden32)
    if d_bias is not None:
        d_bias.index_add_(0, tokens, grad)
    return d_hidden, d_weight, d_bias


class _TokenLogprobs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor) -> Tensor:
        out, lse = _launch(hidden, weight, bias, tokens)
        ctx.save_for_backward(hidden, weight, bias, tokens, lse)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        hidden, weight, bias, tokens, lse = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the backward is asked for: differentiable formula
            grads = _reference_grads(grad, hidden, weight, bias, tokens)
        else:
            grads = _chunked_grads(grad, hidden, weight, bias, tokens, lse, ctx.needs_input_grad[:3])
        grads = [None if g is None or not need else g.to(x.dtype)
                 for g, need, x in zip(grads, ctx.needs_input_grad, (hidden, weight, bias))]
        return (*grads, None)


def _launch(hidden: Tensor, weight: Tensor, bias: Tensor | None, tokens: Tensor) -> tuple[Tensor, Tensor]:
    rows, features = hidden.shape
    out = torch.empty(rows, dtype=torch.float32, device=hidden.device)
    lse = torch.empty(rows, dtype=torch.float32, device=hidden.device)
    # small blocks of rows give a GPU programs enough for its cores when the rows are few
    block_m = 64 if INTERPRET or rows >= 64 * 256 else 16
    block_k = min(BLOCK_K, max(16, triton.next_power_of_2(features)))
    _forward_kernel[(grid_size(rows, block_m),)](
        hidden, weight, out if bias is None else bias.contiguous(), tokens.contiguous(), out, lse,
        rows, weight.shape[0], features, hidden.stride(0), hidden.stride(1), weight.stride(0), weight.stride(1),
        HAS_BIAS=bias is not None, BLOCK_M=block_m, BLOCK_V=BLOCK_V, BLOCK_K=block_k,
        # float32 inputs are multiplied in full precision, as torch's matmul does by default; 16-bit
        # ones are exact in TF32, so the tensor cores take them at no cost in accuracy
        PRECISION="ieee" if hidden.dtype == torch.float32 else "tf32")
    return out, lse


if HAVE_TRITON:
    import triton
    import triton.language as tl

    @triton.jit
    def _forward_kernel(h_ptr, w_ptr, b_ptr, token_ptr, out_ptr, lse_ptr, rows, vocab, features,
                        stride_hm, stride_hk, stride_wv, stride_wk,
                        HAS_BIAS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_V: tl.constexpr,
                        BLOCK_K: tl.constexpr, PRECISION: tl.constexpr):
        row = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        row_inside = row < rows
        row64 = row.to(tl.int64)
        token = tl.load(token_ptr + row64, mask=row_inside, other=0)
        running_max = tl.full((BLOCK_M,), float("-inf"), tl.float32)
        running_sum = tl.zeros((BLOCK_M,), tl.float32)
        chosen = tl.zeros((BLOCK_M,), tl.float32)
        for start in range(0, vocab, BLOCK_V):
            col = start + tl.arange(0, BLOCK_V)
            col_inside = col < vocab
            col64 = col.to(tl.int64)
            logits = tl.zeros((BLOCK_M, BLOCK_V), tl.float32)
            for k0 in range(0, features, BLOCK_K):
                # tiles go to float32: exact for 16-bit inputs (and TF32 keeps them exact), and
                # Triton's CPU interpreter cannot multiply bfloat16 tiles
                k = k0 + tl.arange(0, BLOCK_K)
                k_inside = k < features
                h = tl.load(h_ptr + row64[:, None] * stride_hm + k[None, :] * stride_hk,
                            mask=row_inside[:, None] & k_inside[None, :], other=0.0).to(tl.float32)
                w = tl.load(w_ptr + col64[None, :] * stride_wv + k[:, None].to(tl.int64) * stride_wk,
                            mask=k_inside[:, None] & col_inside[None, :], other=0.0).to(tl.float32)  # W^T tile
                logits = tl.dot(h, w, logits, input_precision=PRECISION)
            if HAS_BIAS:
                logits += tl.load(b_ptr + col64, mask=col_inside, other=0.0).to(tl.float32)[None, :]
            logits = tl.where(col_inside[None, :], logits, float("-inf"))
            new_max = tl.maximum(running_max, tl.max(logits, axis=1))
            running_sum = running_sum * tl.exp(running_max - new_max) + \
                tl.sum(tl.exp(logits - new_max[:, None]), axis=1)
            running_max = new_max
            chosen += tl.sum(tl.where(col[None, :] == token[:, None], logits, 0.0), axis=1)
        lse = running_max + tl.log(running_sum)
        tl.store(out_ptr + row64, chosen - lse, mask=row_inside)
        tl.store(lse_ptr + row64, lse, mask=row_inside)
