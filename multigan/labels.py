"""Class labels, for the class-conditional families of every modality.

A conditional family trains on ``(example, label)`` pairs, the label an int64 class index below
its ``num_classes``, and samples from labels given by name (``"7"``, ``"A4"``, ``"cat"``) or by
index. This module holds the pieces that do not depend on the modality: the dataset wrapper
that yields the pairs (:class:`Labelled`), the check of a batch's labels
(:func:`check_labels`), and the translation of what a user asks for into indices
(:func:`label_indices`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .errors import ConfigError, DataError


class Labelled(Dataset):
    """``(example, label)`` pairs for class-conditional families: ``example`` from ``dataset``
    and its class index from ``dataset.labels`` (the digits' classes, the notes' pitches).

    Args:
        dataset: any dataset with a ``labels`` tensor (one int64 index per example).
        how: what the user should do when ``dataset`` has no labels (the modality says it).
    """

    def __init__(self, dataset: Dataset, how: str):
        labels = getattr(dataset, "labels", None)
        source = getattr(dataset, "source", type(dataset).__name__)
        if labels is None:
            raise DataError(f"data {source!r} has no class labels, and a class-conditional family trains on "
                            f"labelled data: {how}")
        self.dataset, self.labels, self.source = dataset, labels, source
        self.label_names = getattr(dataset, "label_names", None)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.dataset[i], self.labels[i]


def check_labels(labels: Any, num_classes: int, family: str) -> None:
    """Raise :class:`DataError` unless ``labels`` is an int64 tensor (N,) of class indices below
    ``num_classes``."""
    if not isinstance(labels, Tensor) or labels.dtype != torch.long or labels.dim() != 1:
        raise DataError(f"{family} expects int64 class labels (N,), got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise DataError(f"labels range over [{int(labels.min())}, {int(labels.max())}] but {family} has "
                        f"{num_classes} classes")


def names_of(label_names: Sequence[str], num_classes: int) -> tuple[str, ...]:
    """The classes' names: ``label_names`` when given, else the indices as text."""
    return tuple(label_names) if label_names else tuple(str(i) for i in range(num_classes))


def label_indices(cond: Any, n: int | None, num_classes: int, label_names: Sequence[str] = (),
                  family: str = "this family") -> Tensor:
    """The class indices (int64, CPU) that ``sample(n, cond=cond)`` asks for.

    - ``cond`` None: ``n`` labels cycling through the classes (0, 1, ..., K - 1, 0, ...), so
      unconditional use of a conditional family gives every class its share;
    - one label (a name or an index): ``n`` samples of it (one when ``n`` is None);
    - a sequence or tensor of labels: one sample each (``n``, when given, must equal its length).

    A name is looked up in ``label_names`` (by default the indices as text, ``"0"`` to
    ``"K-1"``); an unknown name or an index out of range is a :class:`ConfigError` that lists the
    valid labels.
    """
    names = names_of(label_names, num_classes)
    if cond is None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"sample(n) needs a number of samples >= 1, got {n!r}")
        return torch.arange(n) % num_classes
    single = isinstance(cond, (str, int)) or (isinstance(cond, Tensor) and cond.dim() == 0)
    items = [cond] * (1 if n is None else n) if single else list(cond)
    if not single and n is not None and n != len(items):
        raise ConfigError(f"sample(n={n}) was given {len(items)} labels: pass n=None, or one label for n samples")
    if not items:
        raise ConfigError("sample(cond=[]) asks for no samples: give at least one label")
    return torch.tensor([_index(item, names, family) for item in items], dtype=torch.long)


def class_names(gan: Any) -> tuple[str, ...]:
    """The names of a class-conditional GAN's classes (its ``label_names``, else its
    ``num_classes`` indices as text); a :class:`ConfigError` for any other GAN."""
    family = gan.name or type(gan).__name__
    try:
        num_classes = getattr(gan, "num_classes", 0)
    except ConfigError:   # an audio GAN that is not conditioned on a label says so
        num_classes = 0
    if not num_classes:
        raise ConfigError(f"{family} is not class-conditional: it has no labels to sample")
    return names_of(getattr(gan, "label_names", ()), num_classes)


def _index(item: Any, names: tuple[str, ...], family: str) -> int:
    if isinstance(item, Tensor):
        item = item.item()
    if isinstance(item, str) and item not in names and item.isdigit():
        item = int(item)   # an index given as text (the command line's --label 3)
    if isinstance(item, str) and item in names:
        return names.index(item)
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
        return item
    shown = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + f", ... ({len(names)} in all)"
    raise ConfigError(f"label {item!r} is not one of {family}'s {len(names)} classes; valid labels: {shown} "
                      f"(or their indices 0 to {len(names) - 1})")
