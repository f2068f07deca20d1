"""Metric helpers shared by modalities."""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch
from torch import Tensor


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops on one thread: metric classifiers are so small that synchronising threads
    costs more than the work (tens of times more when other processes keep the cores busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def frechet_distance(features_a: Tensor | np.ndarray, features_b: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples):
    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``, in float64.

    ``tr((C_a C_b)^(1/2))`` is the sum of the square roots of the eigenvalues of ``C_a C_b``,
    which are real and non-negative for covariance matrices (tiny negative or imaginary parts
    from round-off are dropped).
    """
    a = np.asarray(features_a.detach().cpu() if isinstance(features_a, Tensor) else features_a, dtype=np.float64)
    b = np.asarray(features_b.detach().cpu() if isinstance(features_b, Tensor) else features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(cov_a @ cov_b)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


def untrained_like(gan, seed: int = 0):
    """A freshly built GAN of ``gan``'s family and config, its weights drawn from ``seed`` (the
    global random state is left alone), on ``gan``'s device: the baseline a trained GAN's
    metrics are compared with."""
    from .config import config_to_dict
    from .registry import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(gan.name, **config_to_dict(gan.config)).use_kernels(gan.kernels).place(gan.device)


@torch.no_grad()
def sample_in_chunks(gan, n: int, seed: int, chunk: int) -> list:
    """``n`` samples of ``gan`` in chunks of at most ``chunk``; the chunk starting at sample ``i``
    is drawn with seed ``seed + i``, so a metric's samples depend only on ``(n, seed, chunk)``."""
    return [gan.sample(min(chunk, n - i), seed=seed + i) for i in range(0, n, chunk)]
