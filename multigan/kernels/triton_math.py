"""Numerically careful functions for use inside Triton kernels (``tl`` has no sigmoid)."""

from __future__ import annotations

from .dispatch import HAVE_TRITON

if HAVE_TRITON:
    import triton
    import triton.language as tl

    @triton.jit
    def sigmoid(v):
        e = tl.exp(-tl.abs(v))  # never overflows
        return tl.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
