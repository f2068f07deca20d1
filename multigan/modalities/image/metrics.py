"""Image quality on the built-in digits: a digits classifier multigan trains (once, cached) on
the real training split, and the Fréchet distance in its penultimate features.

Both choices the anchors' users trip over are fixed here: samples are compared at the
classifier's native 32x32 grayscale (averaging colour channels, resizing bilinearly with
antialiasing), and the sample count is fixed (1,000 by default) against the whole real test
split (359 images), since FD's bias depends on both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...cache import cached_model
from ...errors import ConfigError
from ...metrics import frechet_distance, sample_in_chunks, untrained_like
from .data import DIGITS_SIZE, digits

CLASSIFIER_VERSION = 1
FEATURES = 128
MODE_FRACTION = 0.01  # a class is covered when at least 1% of the samples are assigned to it


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
def _features_and_labels(classifier: DigitsClassifier, images: Tensor, batch: int = 500) -> tuple[Tensor, Tensor]:
    feats, labels = [], []
    for chunk in images.split(batch):
        f = classifier.features(to_digits_space(chunk))
        feats.append(f)
        labels.append(classifier.head(f).argmax(1))
    return torch.cat(feats).cpu(), torch.cat(labels).cpu()


@torch.no_grad()
def _generate(gan, n: int, seed: int) -> Tensor:
    return torch.cat(sample_in_chunks(gan, n, seed, chunk=500))


def evaluate_digits(gan, data: str | None, n_samples: int | None = None, seed: int = 0) -> dict[str, float]:
    """``fd``, ``fd_untrained``, ``modes_covered``, ``modes_total`` (and the floor ``fd_real``:
    real training images against the real test split) for an image GAN trained on digits."""
    if data not in (None, "digits"):
        raise ConfigError(f"image metrics are defined on the built-in digits dataset (its classifier "
                          f"gives the feature space); this run trained on {data!r}")
    n = 1000 if n_samples is None else n_samples
    device = gan.device
    classifier = digits_classifier(device)
    real_test, _ = _features_and_labels(classifier, digits("test").images.to(device))
    real_train, _ = _features_and_labels(classifier, digits("train").images.to(device))

    fake, predicted = _features_and_labels(classifier, _generate(gan, n, seed))
    counts = torch.bincount(predicted, minlength=10)
    fake_untrained, _ = _features_and_labels(classifier, _generate(untrained_like(gan, seed), n, seed))
    return {
        "fd": frechet_distance(fake, real_test),
        "fd_untrained": frechet_distance(fake_untrained, real_test),
        "fd_real": frechet_distance(real_train, real_test),
        "modes_covered": int((counts >= MODE_FRACTION * n).sum()),
        "modes_total": 10,
        "n_samples": n,
    }
