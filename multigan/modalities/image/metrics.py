"""Image quality: samples, the real test images and trivial reference points are turned into
features, and the distances of :mod:`multigan.metrics` compare them.

Two feature spaces: by default (``features="digits"``) a digits classifier multigan trains
(once, cached) on the real training split of the built-in digits; with ``features="inception"``
the standard TF-Inception pool features (:mod:`.inception`), on any image data.

Both choices the anchors' users trip over are fixed here: samples are compared at the
classifier's native 32x32 grayscale (averaging colour channels, resizing bilinearly with
antialiasing), and the sample count is fixed (1,000 by default) against the whole real test
split (359 images), since FD's and KID's biases depend on both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...cache import cached_model
from ...classification import ClassifierScores
from ...errors import ConfigError, DataError
from ...metrics import (class_histogram_kl, frechet_distance, kernel_distance, memorisation,
                        precision_recall_density_coverage, sample_in_chunks, untrained_like, with_references)
from .data import DIGITS_SIZE, ImageFolder, digits
from .inception import inception_features, load_inception

CLASSIFIER_VERSION = 1
FEATURES = 128
MODE_FRACTION = 0.01  # a class is covered when at least 1% of the samples are confidently assigned to it
CONFIDENCE = 0.9     # a prediction counts as a class from this probability on
COPIES = (10, 100)   # the copyK references: K training images repeated to the sample count
PIXELS = 16          # the cas classifiers read 16x16 grayscale pixels (the digits are 8x8 scans)


class DigitsClassifier(nn.Module):
    """A small CNN on 32x32 grayscale digits; ``features`` gives its penultimate layer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 4 * 4, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _train_classifier(epochs: int = 30, batch_size: int = 64) -> DigitsClassifier:
    data = digits("train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DigitsClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for idx in torch.randperm(len(data)).split(batch_size):
                x = data.images[idx]
                # random shifts of up to two pixels make the features robust to small misalignments
                dx, dy = torch.randint(-2, 3, (2,)).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                loss = F.cross_entropy(model(x), data.labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


def digits_classifier(device: torch.device | str = "cpu") -> DigitsClassifier:
    """The digits classifier, trained on the real training split on first use and cached."""
    return cached_model(f"digits_classifier-v{CLASSIFIER_VERSION}.pt", DigitsClassifier(), _train_classifier, device)


def to_digits_space(images: Tensor) -> Tensor:
    """Images (N, C, H, W) in [-1, 1] as the classifier sees them: 32x32 grayscale."""
    x = images.float()
    if x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-1] != DIGITS_SIZE or x.shape[-2] != DIGITS_SIZE:
        x = F.interpolate(x, size=(DIGITS_SIZE, DIGITS_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


@torch.no_grad()
def _classify(classifier: DigitsClassifier, images: Tensor, batch: int = 500) -> tuple[Tensor, Tensor, Tensor]:
    """Penultimate features (N, 128), class probabilities (N, 10) and 16x16 pixels (what the
    ``cas`` classifiers read) of images."""
    seen = [to_digits_space(chunk) for chunk in images.split(batch)]
    feats = torch.cat([classifier.features(x) for x in seen])
    pixels = torch.cat([F.adaptive_avg_pool2d(x, PIXELS) for x in seen])
    return feats.cpu(), classifier.head(feats).softmax(dim=1).cpu(), pixels.cpu()


def intra_fd(feats: Tensor, labels: Tensor, real_feats: Tensor, real_labels: Tensor) -> float:
    """Per-class FD (intra-FD, Miyato & Koyama 2018): the mean over classes of the Fréchet
    distance between the examples of each class and the real ones of that class."""
    return sum(frechet_distance(feats[labels == c], real_feats[real_labels == c])
               for c in real_labels.unique()) / len(real_labels.unique())


def asked_labels(gan, n: int) -> Tensor | None:
    """The labels a class-conditional GAN is asked for in its evaluation: every class in turn
    (0, 1, ..., K - 1, 0, ...); None for an unconditional GAN."""
    return torch.arange(n) % gan.num_classes if getattr(gan, "num_classes", 0) else None


@torch.no_grad()
def _generate(gan, n: int, seed: int) -> Tensor:
    labels = asked_labels(gan, n)
    if labels is None:
        return torch.cat(sample_in_chunks(gan, n, seed, chunk=500))
    return torch.cat([gan.sample(cond=labels[i:i + 500], seed=seed + i) for i in range(0, n, 500)])


def copy_index(labels: Tensor | None, k: int, n: int) -> Tensor:
    """Indices of ``k`` training images repeated to ``n``: the first ``k / classes`` of each
    class in turn when labels are known (so a copier also covers every class, the strongest
    trivial answer), else the first ``k``."""
    if labels is None:
        chosen = torch.arange(min(k, n))
    else:
        rank = torch.zeros_like(labels)
        for c in labels.unique():
            members = labels == c
            rank[members] = torch.arange(int(members.sum()))
        order = torch.argsort(rank * (int(labels.max()) + 1) + labels)   # rank-major, class-minor
        chosen = order[:k]
    return chosen.repeat((n + len(chosen) - 1) // len(chosen))[:n]


def real_index(size: int, n: int, seed: int) -> Tensor:
    """``min(n, size)`` distinct training images drawn by ``seed``: the ``real`` reference."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(size, generator=generator)[:n]


def digits_targets(metrics: dict) -> list[tuple[str, bool]]:
    """The bar every digits recipe is held to on the unconditional metrics (docs/dcgan.md says
    why): ``fd`` <= 0.5 x copy100's, ``coverage`` >= 0.7, ``recall`` >= 0.5 and
    ``memorisation`` >= 0.8 (not a copier), as (description, met) pairs for
    :func:`multigan.recipe.check_targets`."""
    m, copy100 = metrics, metrics["references"]["copy100"]
    return [
        (f"fd {m['fd']:.1f} <= 0.5 x copy100's {copy100['fd']:.1f}", m["fd"] <= 0.5 * copy100["fd"]),
        (f"coverage {m['coverage']:.3f} >= 0.7", m["coverage"] >= 0.7),
        (f"recall {m['recall']:.3f} >= 0.5", m["recall"] >= 0.5),
        (f"memorisation {m['memorisation']:.3f} >= 0.8", m["memorisation"] >= 0.8),
    ]


def evaluate_images(gan, data: str | None, n_samples: int | None = None, seed: int = 0, *,
                    features: str = "digits", inception: str | None = None) -> dict:
    """``multigan eval`` for an image GAN: :func:`evaluate_digits` by default, or with
    ``features="inception"`` :func:`evaluate_inception` (``inception``: the weights file; see
    :func:`.inception.find_inception`)."""
    if features == "digits":
        if inception is not None:
            raise ConfigError("--inception applies to --features inception")
        return evaluate_digits(gan, data, n_samples, seed)
    if features == "inception":
        return evaluate_inception(gan, data, n_samples, seed, inception=inception)
    raise ConfigError(f"image features {features!r}: allowed 'digits' (the default) or 'inception'")


def evaluate_digits(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict:
    """Quality of an image GAN trained on digits, with its reference points.

    ``n_samples`` (default 1,000) samples are compared with the 359 real test digits in the
    digits classifier's features: ``fd`` (Fréchet distance), ``kid`` and ``kid_std``
    (:func:`~multigan.metrics.kernel_distance`), ``precision``, ``recall``, ``density``,
    ``coverage`` (k = 5), ``memorisation`` (nearest-training-image distance against real test
    images'), ``class_kl`` (confident-prediction class histogram against the real one) and
    ``modes_covered`` (digits confidently assigned to at least 1% of the samples).

    ``references`` holds the same metrics for ``real`` (real training images: the floor),
    ``copy10`` and ``copy100`` (that many training images, a tenth of them per class,
    repeated to ``n_samples``) and ``untrained`` (the same config, untrained).

    A class-conditional GAN (``num_classes`` 10, the digits' labels) is asked for every class in
    turn and also scored on ``label_accuracy``: the share of its samples the classifier assigns
    to the asked class. The references give theirs with their own labels: ``real`` is the
    classifier's accuracy on real digits (the ceiling), copies score as real images do, and
    ``untrained`` (which ignores its labels) is at chance, 0.1. Also, for the GAN and each
    reference, ``intra_fd`` (the per-class FD against the real test digits of that class),
    ``cas`` and ``augmentation_gain`` (:mod:`multigan.classification`: classifiers trained on
    16x16 pixels of the labelled samples, means over 3 seeds with their ``_std``); and, once,
    ``cas_real`` (the same classifier trained on ``n_samples`` real training digits) and
    ``few_shot_accuracy`` (10 real digits per class alone).
    """
    if data not in (None, "digits"):
        raise ConfigError(f"the digits metrics are defined on the built-in digits dataset (its classifier "
                          f"gives the feature space); this run trained on {data!r}: use --features inception")
    n = 1000 if n_samples is None else n_samples
    if getattr(gan, "num_classes", 0) not in (0, 10):
        raise ConfigError(f"the digits metrics score a class-conditional GAN by the digits' 10 classes; this one "
                          f"has {gan.num_classes}")
    asked = asked_labels(gan, n)
    if asked is not None and n < 2 * gan.num_classes:
        raise ConfigError(f"a class-conditional run is scored per class (intra_fd needs 2 samples of each): "
                          f"use --n {2 * gan.num_classes} or more, got {n}")
    classifier = digits_classifier(gan.device)
    train, test = digits("train"), digits("test")
    test_features, test_probs, test_pixels = _classify(classifier, test.images.to(gan.device))
    train_features, train_probs, train_pixels = _classify(classifier, train.images.to(gan.device))
    # cas and augmentation_gain: classifiers trained on labelled examples, tested on the real test split
    probe = None if asked is None else ClassifierScores((train_pixels, train.labels), (test_pixels, test.labels),
                                                         num_classes=10, n_train=n)

    def score(seen: tuple[Tensor, Tensor, Tensor, Tensor | None]) -> dict:
        feats, probs, pixels, labels = seen
        kid, kid_std = kernel_distance(feats, test_features, seed=seed)
        confident = probs[probs.max(dim=1).values >= CONFIDENCE].argmax(dim=1)
        conditional = {} if labels is None else {
            "label_accuracy": float((probs.argmax(dim=1) == labels).float().mean()),
            "intra_fd": intra_fd(feats, labels, test_features, test.labels),
            **probe.scores(pixels, labels)}
        return {
            **conditional,
            "fd": frechet_distance(feats, test_features),
            "kid": kid, "kid_std": kid_std,
            **precision_recall_density_coverage(test_features, feats),
            "memorisation": memorisation(feats, train_features, test_features),
            "class_kl": class_histogram_kl(probs, test_probs, CONFIDENCE),
            "modes_covered": int((torch.bincount(confident, minlength=10) >= MODE_FRACTION * len(feats)).sum()),
            "n_samples": len(feats),
        }

    def from_train(index: Tensor):
        return lambda: (train_features[index], train_probs[index], train_pixels[index],
                        None if asked is None else train.labels[index])

    def of_samples(model) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        return (*_classify(classifier, _generate(model, n, seed)), asked)

    references = {
        "real": from_train(real_index(len(train), n, seed)),
        **{f"copy{k}": from_train(copy_index(train.labels, k, n)) for k in COPIES},
        "untrained": lambda: of_samples(untrained_like(gan, seed)),
    }
    result = with_references(score, of_samples(gan), references)
    return result if probe is None else {**probe.real_scores(), **result}


@torch.no_grad()
def _inception_of_samples(gan, n: int, seed: int, model) -> Tensor:
    """TF-Inception features of ``n`` samples drawn as the digits metrics draw them."""
    return torch.cat([inception_features(chunk, model) for chunk in sample_in_chunks(gan, n, seed, chunk=500)])


def _inception_of_items(dataset, index: Tensor, model, batch: int = 32) -> Tensor:
    """TF-Inception features of ``dataset[index]``, each distinct item computed once."""
    unique, inverse = index.unique(return_inverse=True)
    feats = torch.cat([inception_features(torch.stack([dataset[int(i)] for i in chunk]), model)
                       for chunk in unique.split(batch)])
    return feats[inverse]


def evaluate_inception(gan, data: str | None, n_samples: int | None = None, seed: int = 0, *,
                       inception: str | None = None) -> dict:
    """``multigan eval RUN --features inception``: ``n_samples`` (default 1,000) samples against
    real images of the run's data, at the model's size, in the standard TF-Inception features
    (:mod:`.inception`): ``fid``, ``kid``, ``kid_std``, ``n_samples``, ``n_real``.

    The real set is up to ``n_samples`` test images drawn by ``seed``; a folder has no test
    split, so a seeded half of its images at most, the rest standing in for the training set.
    ``references``: ``real`` (``n_samples`` distinct training images: the floor at this count),
    ``copy10`` and ``copy100`` (that many training images repeated, a share per class where the
    data has labels), ``untrained``."""
    n = 1000 if n_samples is None else n_samples
    if n < 2:
        raise ConfigError(f"FID and KID need at least 2 samples, got {n}")
    model = load_inception(inception, gan.device)
    from . import IMAGE   # the modality's loaders (this module is imported by the modality's __init__)

    test = IMAGE.dataset(data, gan, "test")
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    if isinstance(test, ImageFolder):             # one set of files: split it
        k = min(n, len(test) // 2)
        train, train_index, labels = test, order[k:], None
    else:
        k = min(n, len(test))
        train = IMAGE.dataset(data, gan, "train")
        train_index, labels = torch.arange(len(train)), getattr(train, "labels", None)
    if k < 2 or len(train_index) < 2:
        raise DataError(f"data {data!r} has too few images for FID and KID ({len(test)})")
    real = _inception_of_items(test, order[:k], model)

    def score(feats: Tensor) -> dict:
        kid, kid_std = kernel_distance(feats, real, seed=seed)
        return {"fid": frechet_distance(feats, real), "kid": kid, "kid_std": kid_std,
                "n_samples": len(feats), "n_real": len(real)}

    def from_train(index: Tensor):
        return lambda: _inception_of_items(train, train_index[index], model)

    references = {
        "real": from_train(real_index(len(train_index), n, seed)),
        **{f"copy{c}": from_train(copy_index(None if labels is None else labels[train_index], c, n))
           for c in COPIES},
        "untrained": lambda: _inception_of_samples(untrained_like(gan, seed), n, seed, model),
    }
    return with_references(score, _inception_of_samples(gan, n, seed, model), references)
