"""Drawing one token per row from unnormalised logits (SeqGAN's sampling and rollouts).

Each row of ``logits`` (N, V) gives one index drawn from ``softmax(logits / temperature)``.

Reference: inverts each row's cumulative distribution at a uniform draw: exact, and several
times faster than ``torch.multinomial`` on the CPU for vocabularies of thousands; it holds the
(N, V) cumulative sums in memory. Fused: the Gumbel-max trick in one Triton pass per block of
rows: ``argmax(logits / temperature + G)`` with ``G`` standard Gumbel noise is a draw from the
softmax, so the kernel walks the vocabulary in blocks keeping a running maximum and its index;
neither probabilities nor noise are ever written to memory, and the logits are read once.

The two use their random numbers differently, so for the same generator state they draw
different (equally distributed) indices; each is deterministic given that state. Sampling has
no gradient: there is no backward.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .dispatch import HAVE_TRITON, INTERPRET, dispatch, grid_size

BLOCK_V = 1024  # vocabulary columns per step of the fused kernel's loop
# logits per step of one program (small vocabularies take many rows); Triton's CPU interpreter
# pays per operation rather than per element, so it gets much larger blocks
BLOCK_ELEMENTS = 1 << 16 if INTERPRET else 4096


def sample_categorical(logits: Tensor, temperature: float = 1.0, generator: torch.Generator | None = None,
                       impl: str = "auto") -> Tensor:
    """One index per row of ``logits`` (N, V), drawn from ``softmax(logits / temperature)``: (N,) int64.

    ``temperature`` must be positive. The random numbers come from ``generator`` (None: the
    global RNG), so the same generator state gives the same indices; a token of probability zero
    (a ``-inf`` logit) is never drawn. The reference draws one uniform per row on the logits'
    device with ``generator`` and inverts the cumulative distribution (the built-in oracle
    dataset is drawn this way, so these draws must not change); the fused kernel draws one seed
    on ``generator``'s device with it and adds Gumbel noise from that seed, so its indices differ
    from the reference's for the same state while following the same distribution.
    ``impl``: ``"ref"``, ``"triton"`` or ``"auto"`` (see :mod:`multigan.kernels.dispatch`).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if logits.dim() != 2:
        raise ValueError(f"sample_categorical takes logits (N, V), got shape {tuple(logits.shape)}")
    return dispatch("sample_categorical", impl, logits.device,
                    lambda: _fused(logits, temperature, generator),
                    lambda: _reference(logits, temperature, generator))


def _reference(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    logits = logits.float()
    if temperature != 1:  # dividing by 1 changes nothing: skip a pass over (N, V)
        logits = logits / temperature
    # one new (N, V) tensor, updated in place from here on: the caller's logits stay as they are
    cdf = (logits - logits.amax(dim=1, keepdim=True)).exp_().cumsum_(dim=1)
    target = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device) * cdf[:, -1:]
    # right=True skips zero-probability tokens; the clamp catches u * total rounding up to the total
    return torch.searchsorted(cdf, target, right=True).clamp_(max=logits.shape[1] - 1).squeeze(1)


def _fused(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    rows, vocab = logits.shape
    # the seed stays a tensor the kernel loads: no host sync between sampling steps on a GPU
    seed_device = generator.device if generator is not None else logits.device
    seed = torch.randint(2 ** 62, (1,), generator=generator, device=seed_device).to(logits.device)
    out = torch.empty(rows, dtype=torch.long, device=logits.device)
    block_v = min(BLOCK_V, triton.next_power_of_2(vocab))
    block_rows = BLOCK_ELEMENTS // block_v
    _gumbel_max_kernel[(grid_size(rows, block_rows),)](
        logits, out, seed, rows, vocab, logits.stride(0), logits.stride(1), float(temperature),
        BLOCK_ROWS=block_rows, BLOCK_V=block_v)
    return out


if HAVE_TRITON:
    import triton
    import triton.language as tl

    @triton.jit
    def _gumbel_max_kernel(logits_ptr, out_ptr, seed_ptr, rows, vocab, stride_row, stride_col, temperature,
                           BLOCK_ROWS: tl.constexpr, BLOCK_V: tl.constexpr):
        row = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
        row_inside = row < rows
        row64 = row.to(tl.int64)
        seed = tl.load(seed_ptr)
        best = tl.full((BLOCK_ROWS,), float("-inf"), tl.float32)
        best_index = tl.zeros((BLOCK_ROWS,), tl.int64)
        for start in range(0, vocab, BLOCK_V):
            col = start + tl.arange(0, BLOCK_V)
            inside = row_inside[:, None] & (col < vocab)[None, :]
            z = tl.load(logits_ptr + row64[:, None] * stride_row + col[None, :].to(tl.int64) * stride_col,
                        mask=inside, other=float("-inf")).to(tl.float32) / temperature
            # one uniform per (row, column) of the whole matrix: the draw does not depend on BLOCK_V
            u = tl.rand(seed, row64[:, None] * vocab + col[None, :])
            z += -tl.log(-tl.log(u))  # standard Gumbel; a -inf logit stays -inf
            block_best, block_index = tl.max(z, axis=1, return_indices=True)
            block_index = block_index.to(tl.int64) + start
            better = block_best > best  # strict: -inf (zero probability, or past the end) never wins
            best_index = tl.where(better, block_index, best_index)
            best = tl.where(better, block_best, best)
        tl.store(out_ptr + row64, best_index, mask=row_inside)
