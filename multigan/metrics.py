"""Distances between sets of samples, written once on feature matrices (rows are samples), and
the helpers every modality's ``evaluate`` composes them with.

A modality supplies feature extractors and the trivial reference points of its kind of data;
the distances here know nothing of images, audio or text. See docs/evaluation.md for what each
one detects and how to read it.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import Tensor

Features = Tensor | np.ndarray

PRDC_K = 5             # Naeem et al. 2020's neighbourhood size
KID_SUBSETS = 100      # as StyleGAN2-ADA and clean-fid compute KID
KID_SUBSET_SIZE = 1000
CONFIDENCE = 0.9       # a prediction counts towards a class histogram from this probability on


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


def _float64(features: Features) -> np.ndarray:
    x = features.detach().cpu().double().numpy() if isinstance(features, Tensor) else features
    return np.asarray(x, dtype=np.float64)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """The symmetric square root of a covariance matrix (round-off negatives clipped to 0)."""
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(features_a: Features, features_b: Features) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples):
    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``, in float64.

    ``tr((C_a C_b)^(1/2))`` is the nuclear norm of ``C_a^(1/2) C_b^(1/2)``, which is exact for
    covariance matrices and stable where they are singular, so a set against itself gives 0 to
    round-off (the ``sqrtm(C_a C_b)`` of most FID code drifts there). With fewer samples than
    features it is computed, the same number, as the nuclear norm of the small matrix
    ``A B^T`` of the centred, scaled samples (``C_a = A^T A``): milliseconds instead of seconds
    for 2,048-d Inception features.
    """
    a, b = _float64(features_a), _float64(features_b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the Fréchet distance needs at least two samples a side, got {len(a)} and {len(b)}")
    mean_term = ((a.mean(0) - b.mean(0)) ** 2).sum()
    if max(len(a), len(b)) <= a.shape[1]:
        ca, cb = ((x - x.mean(0)) / np.sqrt(len(x) - 1) for x in (a, b))
        traces = (ca ** 2).sum() + (cb ** 2).sum()
        tr_sqrt = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    else:
        cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
        traces = np.trace(cov_a) + np.trace(cov_b)
        tr_sqrt = np.linalg.svd(_psd_sqrt(cov_a) @ _psd_sqrt(cov_b), compute_uv=False).sum()
    return float(max(mean_term + traces - 2 * tr_sqrt, 0.0))


def kernel_distance(features_a: Features, features_b: Features, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the unbiased estimate of the squared MMD with the kernel
    ``k(x, y) = (x.y / d + 1)^3``, averaged over ``subsets`` random subsets of
    ``min(subset_size, len(a), len(b))`` rows a side (drawn without replacement by ``seed``).
    Returns (mean, std over the subsets). Unbiased: two samples of one distribution give
    values around 0, negative ones included."""
    a, b = _float64(features_a), _float64(features_b)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least two samples a side, got {len(a)} and {len(b)}")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx, k_yy, k_xy = ((p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        off_diagonal = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        values.append(off_diagonal - 2 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values))


def _distances(a: Tensor, b: Tensor, chunk: int = 2048) -> Tensor:
    """Euclidean distances (len(a), len(b)) in float64, computed in row chunks."""
    return torch.cat([torch.cdist(part, b) for part in a.split(chunk)])


def _kth_neighbour_radii(x: Tensor, k: int) -> Tensor:
    """Each row's distance to its k-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"k-nearest-neighbour radii with k={k} need more than {k} samples, got {len(x)}")
    return _distances(x, x).kthvalue(k + 1, dim=1).values   # the first is the row itself, at 0


def precision_recall_density_coverage(real: Features, fake: Features, k: int = PRDC_K) -> dict[str, float]:
    """Naeem et al. 2020's four measures, each sample's neighbourhood the ball out to its k-th
    nearest neighbour within its own set:

    - ``precision``: share of fake samples inside some real neighbourhood (fidelity);
    - ``recall``: share of real samples inside some fake neighbourhood (diversity: copies of a
      few images have neighbourhoods of radius 0, so a copier's recall is near 0);
    - ``density``: real neighbourhoods holding each fake sample, over k, averaged (about 1 for
      samples distributed like the real ones; above 1 where they crowd dense regions);
    - ``coverage``: share of real samples whose own neighbourhood holds a fake sample.
    """
    r, f = torch.as_tensor(_float64(real)), torch.as_tensor(_float64(fake))
    real_radii, fake_radii = _kth_neighbour_radii(r, k), _kth_neighbour_radii(f, k)
    d = _distances(f, r)                                   # (fake, real)
    inside_real = d <= real_radii.unsqueeze(0)
    return {
        "precision": float(inside_real.any(dim=1).double().mean()),
        "recall": float((d <= fake_radii.unsqueeze(1)).any(dim=0).double().mean()),
        "density": float(inside_real.sum(dim=1).double().mean() / k),
        "coverage": float((d.min(dim=0).values <= real_radii).double().mean()),
    }


def memorisation(samples: Features, train: Features, test: Features) -> float:
    """The median distance from a sample to its nearest training example, divided by the same
    for held-out real examples: about 1 for a model that generalises like real data, 0 for a
    copier of training examples, between for near-copies."""
    t = torch.as_tensor(_float64(train))
    nearest = [float(_distances(torch.as_tensor(_float64(x)), t).min(dim=1).values.median()) for x in (samples, test)]
    return nearest[0] / nearest[1]


def class_histogram_kl(fake_probs: Features, real_probs: Features, confidence: float = CONFIDENCE) -> float:
    """``KL(fake || real)`` of predicted-class histograms (probabilities (N, C) from a
    classifier), counting a sample towards its argmax class only when that probability is at
    least ``confidence``; the rest fill one extra "unsure" bin, so noise that no class claims
    is far from real data rather than absent. Half a count is added to each bin (Jeffreys), so
    the value is finite; 0 means the same mix of classes. A collapse onto one of C balanced
    classes gives about ``log C``."""
    def histogram(probs: Features) -> np.ndarray:
        p = _float64(probs)
        bins = np.where(p.max(axis=1) >= confidence, p.argmax(axis=1), p.shape[1])
        counts = np.bincount(bins, minlength=p.shape[1] + 1) + 0.5
        return counts / counts.sum()

    p, q = histogram(fake_probs), histogram(real_probs)
    return float((p * np.log(p / q)).sum())


def with_references(score: Callable[[object], dict], model: object,
                    references: Mapping[str, Callable[[], object]]) -> dict:
    """``score(model)`` with, under ``"references"``, ``score`` of each reference point (built
    lazily, in order): the shape of every ``multigan eval`` result."""
    return {**score(model), "references": {name: score(make()) for name, make in references.items()}}


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
def sample_in_chunks(gan, n: int, seed: int, chunk: int, **options) -> list:
    """``n`` samples of ``gan`` in chunks of at most ``chunk``; the chunk starting at sample ``i``
    is drawn with seed ``seed + i``, so a metric's samples depend only on ``(n, seed, chunk)``.
    ``options`` go to ``gan.sample`` (a text GAN's ``temperature``)."""
    return [gan.sample(min(chunk, n - i), seed=seed + i, **options) for i in range(0, n, chunk)]
