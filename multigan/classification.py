"""What a class-conditional GAN's labelled samples are worth to a classifier trained on them.

- ``cas``, the classification accuracy score (Ravuri & Vinyals, 2019): a classifier trained
  only on generated ``(sample, asked label)`` pairs, tested on the real test split; beside it
  ``cas_real``, the same classifier trained on real training examples (as many as there are
  generated ones, or all there are), the ceiling.
- ``augmentation_gain``: test accuracy of a classifier trained on ``per_class`` (10) real
  examples per class plus the generated ones, minus one trained on the same real examples alone
  (``few_shot_accuracy``): data augmentation, measured.

Each figure is the mean over ``seeds`` (3) runs, each with its own initial weights, batch order
and real subset, and comes with its standard deviation across them (``cas_std``, ...).

The classifier is a small MLP trained from scratch on a fixed representation the modality
gives (an image's pixels at 16 x 16, a note's log-mel summary), so that what it learns comes
from the labelled examples alone, not from a network already trained on real labels; it is
cheap enough to train 30-odd times per evaluation on a CPU.
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SEEDS = (0, 1, 2)
PER_CLASS = 10     # real examples per class in the augmentation experiment
STEPS = 400        # Adam steps per classifier, whatever the training set's size
BATCH = 64
HIDDEN = 256


def train_classifier(x: Tensor, y: Tensor, num_classes: int, seed: int, steps: int = STEPS) -> nn.Module:
    """An MLP (two hidden layers of 256, ReLU, dropout 0.2) trained from scratch on ``x``
    (N, ...) flattened and labels ``y`` (N,): ``steps`` Adam steps (lr 1e-3, weight decay 1e-4)
    on batches of 64 drawn by ``seed``, which also draws the initial weights. Leaves the global
    random state alone."""
    x = x.flatten(1).float()
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(x.shape[1], HIDDEN), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(HIDDEN, num_classes))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        with torch.enable_grad():
            for _ in range(steps):
                idx = torch.randint(len(x), (min(BATCH, len(x)),), generator=generator)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """The share of ``x`` that ``model`` assigns to its label in ``y``."""
    return float((model(x.flatten(1).float()).argmax(dim=1) == y).float().mean())


def per_class_subset(labels: Tensor, k: int, seed: int) -> Tensor:
    """Indices of ``k`` examples of each class in ``labels`` (all of a class with fewer), drawn
    by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    chosen = [members[torch.randperm(len(members), generator=generator)[:k]]
              for members in (torch.nonzero(labels == c).flatten() for c in labels.unique())]
    return torch.cat(chosen).sort().values


def _mean_std(values: list[float], name: str) -> dict[str, float]:
    return {name: statistics.fmean(values), f"{name}_std": statistics.stdev(values) if len(values) > 1 else 0.0}


class ClassifierScores:
    """``cas`` and ``augmentation_gain`` of labelled examples against one real split.

    Args:
        train: real training examples (N, ...) and their labels (N,), in the representation the
            classifier reads; the ``cas_real`` classifier trains on up to ``n_train`` of them
            and the few-shot subsets are drawn from them.
        test: the real test examples and labels every classifier is tested on.
        num_classes: classes of the labels.
        n_train: how many real examples ``cas_real`` trains on (the generated set's size, for a
            like-for-like ceiling); None: all.
        seeds: one run per seed; figures are means with their standard deviation.
        per_class: real examples per class in the augmentation experiment.
    """

    def __init__(self, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], num_classes: int,
                 n_train: int | None = None, seeds: tuple[int, ...] = SEEDS, per_class: int = PER_CLASS):
        self.train, self.test, self.num_classes, self.seeds = train, test, num_classes, seeds
        self.few = [per_class_subset(train[1], per_class, seed) for seed in seeds]
        self.few_accuracy = [self._accuracy(train[0][idx], train[1][idx], seed) for idx, seed in zip(self.few, seeds)]
        real = []
        for seed in seeds:
            order = torch.randperm(len(train[1]), generator=torch.Generator().manual_seed(seed))[:n_train]
            real.append(self._accuracy(train[0][order], train[1][order], seed))
        self.real_accuracy = real

    def _accuracy(self, x: Tensor, y: Tensor, seed: int) -> float:
        return accuracy(train_classifier(x, y, self.num_classes, seed), *self.test)

    def real_scores(self) -> dict[str, float]:
        """``cas_real`` and ``few_shot_accuracy`` (``per_class`` real examples per class alone),
        each with its ``_std``."""
        return {**_mean_std(self.real_accuracy, "cas_real"), **_mean_std(self.few_accuracy, "few_shot_accuracy")}

    def scores(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """``cas`` of the labelled examples ``(x, y)`` and the ``augmentation_gain`` they give
        the few-shot classifier, each with its ``_std`` over the seeds."""
        cas, gain = [], []
        for idx, seed, alone in zip(self.few, self.seeds, self.few_accuracy):
            cas.append(self._accuracy(x, y, seed))
            mixed = self._accuracy(torch.cat([self.train[0][idx], x]), torch.cat([self.train[1][idx], y]), seed)
            gain.append(mixed - alone)
        return {**_mean_std(cas, "cas"), **_mean_std(gain, "augmentation_gain")}
