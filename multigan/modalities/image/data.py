"""Image data: the built-in ``digits``, folders of image files, and torchvision datasets.

Every dataset yields float tensors (C, H, W) in [-1, 1], shaped for the model's config
(``image_size``, ``channels``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ...errors import ConfigError, DataError, warn
from ...labels import check_labels, folder_labels
from ...modality import check_float_batch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DIGITS_SIZE = 32        # the built-in digits' native training size (8x8 scans, upsampled)
DIGITS_TEST_FRACTION = 0.2


class TensorImages(Dataset):
    """Images held in memory as one tensor (N, C, H, W), with optional labels (int64 class
    indices) and the classes' names."""

    def __init__(self, images: Tensor, labels: Tensor | None = None, source: str = "tensor",
                 label_names: tuple[str, ...] | None = None):
        self.images, self.labels, self.source, self.label_names = images, labels, source, label_names

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


@functools.lru_cache(maxsize=None)
def _digits_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (0..16) and labels, split 80/20 per class with a fixed seed."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.RandomState(0)
    test = np.zeros(len(digits.target), dtype=bool)
    for label in range(10):
        idx = np.flatnonzero(digits.target == label)
        rng.shuffle(idx)
        test[idx[: int(round(len(idx) * DIGITS_TEST_FRACTION))]] = True
    keep = test if split == "test" else ~test
    return digits.images[keep].astype(np.float32), digits.target[keep].astype(np.int64)


def digits(split: str = "train", image_size: int = DIGITS_SIZE, channels: int = 1) -> TensorImages:
    """The built-in ``digits``: 1,797 real 8x8 handwritten digits from scikit-learn, scaled to
    [-1, 1] and resized bilinearly to ``image_size``; 1,438 train / 359 test images.

    Channels are repeated when ``channels`` is 3, so an RGB model can train on them too.
    """
    if split not in ("train", "test"):
        raise ConfigError(f"digits split {split!r}: allowed 'train' or 'test'")
    images, labels = _digits_split(split)
    x = torch.from_numpy(images).unsqueeze(1) / 8.0 - 1.0   # 0..16 -> -1..1
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = x.clamp(-1, 1).repeat(1, channels, 1, 1).contiguous()
    return TensorImages(x, torch.from_numpy(labels), source=f"digits ({split})",
                        label_names=tuple(str(d) for d in range(10)))


def pil_to_tensor(image: Image.Image, image_size: int, channels: int) -> Tensor:
    """Convert to grayscale or RGB, resize the shorter side to ``image_size`` (bicubic,
    antialiased), centre-crop to a square and scale to [-1, 1]. Returns (C, H, W)."""
    image = image.convert("L" if channels == 1 else "RGB")
    w, h = image.size
    scale = image_size / min(w, h)
    new_w, new_h = max(image_size, round(w * scale)), max(image_size, round(h * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = (new_w - image_size) // 2, (new_h - image_size) // 2
    image = image.crop((left, top, left + image_size, top + image_size))
    array = np.asarray(image, dtype=np.float32).reshape(image_size, image_size, channels)
    return torch.from_numpy(array).permute(2, 0, 1) / 127.5 - 1.0


def image_files(root: Path) -> list[Path]:
    """Every file under ``root`` (recursively) with an image extension, sorted by path."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class ImageFolder(Dataset):
    """Every image file under ``root`` (recursively), resized and centre-cropped to the model.

    Each file is checked when the dataset is made: an unreadable one raises :class:`DataError`
    naming it, or is skipped with a warning when ``skip_bad_files=True``.

    Class labels (:attr:`labels`, :attr:`label_names`) come from a ``labels.csv`` in ``root``
    (header ``file,label``, one row per image), else from the layout torchvision's
    ``ImageFolder`` reads: when every image lies in a subfolder of ``root`` (``root/cat/1.png``,
    ``root/dog/2.png``), each subfolder is a class; the classes in sorted order of their names
    (:func:`multigan.labels.folder_labels`). Otherwise the folder is unlabelled (both None).
    """

    def __init__(self, root: str | Path, image_size: int, channels: int, skip_bad_files: bool = False):
        self.root, self.image_size, self.channels = Path(root), image_size, channels
        self.source = str(root)
        if not self.root.is_dir():
            raise DataError(f"image data {str(root)!r} is not a folder of images")
        candidates = image_files(self.root)
        if not candidates:
            raise DataError(f"image folder {str(root)!r} has no image files "
                            f"({', '.join(IMAGE_EXTENSIONS)})")
        self.files: list[Path] = []
        for path in candidates:
            try:
                with Image.open(path) as im:
                    im.verify()
            except Exception as exc:
                if not skip_bad_files:
                    raise DataError(f"image file {str(path)!r} cannot be read ({exc}); fix or remove "
                                    "it, or pass skip_bad_files=True to skip such files") from exc
                warn(f"skipping unreadable image file {str(path)!r}: {exc}")
                continue
            self.files.append(path)
        if not self.files:
            raise DataError(f"image folder {str(root)!r} has no readable image files")
        # from the files kept, so that skipped ones leave no class and no gap behind
        labelled = folder_labels(self.root, self.files)
        self.label_names, self.labels = labelled if labelled is not None else (None, None)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        path = self.files[i]
        try:
            with Image.open(path) as im:
                return pil_to_tensor(im, self.image_size, self.channels)
        except Exception as exc:
            raise DataError(f"image file {str(path)!r} cannot be decoded: {exc}") from exc


class TorchvisionImages(Dataset):
    """A torchvision dataset read from a local ``root`` (never downloaded), as images.

    Its class labels, where it has them (``targets``; SVHN's ``labels``), are :attr:`labels`
    (int64) and its ``classes`` :attr:`label_names` (else the indices as text); both None for
    an unlabelled dataset.
    """

    def __init__(self, name: str, root: str, image_size: int, channels: int, train: bool = True):
        try:
            datasets = importlib.import_module("torchvision.datasets")
        except ImportError as exc:
            raise ConfigError("torchvision datasets need torchvision: pip install torchvision") from exc
        if not hasattr(datasets, name):
            raise ConfigError(f"torchvision.datasets has no dataset {name!r}")
        if not Path(root).exists():
            raise DataError(f"torchvision dataset root {root!r} does not exist (nothing is downloaded)")
        cls = getattr(datasets, name)
        # MNIST/CIFAR take train=, SVHN/STL10/CelebA take split=
        params = inspect.signature(cls).parameters
        split = {"train": train} if "train" in params else {"split": "train" if train else "test"} if "split" in params else {}
        try:
            self.inner = cls(root=root, download=False, **split)
        except Exception as exc:
            raise DataError(f"torchvision dataset {name} cannot be read from {root!r}: {exc}") from exc
        self.image_size, self.channels, self.source = image_size, channels, f"torchvision:{name}:{root}"
        self.labels, self.label_names = _torchvision_labels(self.inner)

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> Tensor:
        item = self.inner[i]
        image = item[0] if isinstance(item, (tuple, list)) else item
        return pil_to_tensor(image, self.image_size, self.channels)


def _torchvision_labels(inner) -> tuple[Tensor | None, tuple[str, ...] | None]:
    """A torchvision dataset's labels and class names, read from its attributes (no image is
    decoded); (None, None) when it has no labels."""
    targets = getattr(inner, "targets", None)
    if targets is None:
        targets = getattr(inner, "labels", None)   # SVHN
    if targets is None:
        return None, None
    array = np.asarray(targets)
    # not one class index per image: CelebA's attributes, STL10's -1 for its unlabelled images
    if array.ndim != 1 or array.dtype.kind not in "iu" or len(array) != len(inner) or (array.size and array.min() < 0):
        return None, None
    count = int(array.max()) + 1 if array.size else 0
    classes = getattr(inner, "classes", None)
    names = (tuple(str(c) for c in classes) if classes is not None and len(classes) >= count
             else tuple(str(i) for i in range(count)))
    return torch.from_numpy(array.astype(np.int64)), names


def load_image_path(source: str, gan, split: str, skip_bad_files: bool) -> Dataset:
    """The image modality's loader for user data: a folder of images, or
    ``torchvision:NAME:ROOT`` for a torchvision dataset stored under ``ROOT``."""
    channels, size, _ = gan.image_shape
    if source.startswith("torchvision:"):
        _, name, root = (source.split(":", 2) + ["", ""])[:3]
        if not name or not root:
            raise ConfigError(f"expected torchvision:NAME:ROOT, got {source!r}")
        return TorchvisionImages(name, root, size, channels, train=split == "train")
    return ImageFolder(source, size, channels, skip_bad_files)


def check_image_batch(batch, gan) -> None:
    """Raise :class:`DataError` unless ``batch`` is a float tensor (N, *gan.image_shape), or for a
    class-conditional family ``(images, labels)`` with int64 labels below its ``num_classes``."""
    family = gan.name or type(gan).__name__
    if gan.num_classes:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise DataError(f"{family} is class-conditional and expects (images, labels) pairs, "
                            f"got {type(batch).__name__}")
        batch, labels = batch
        check_labels(labels, gan.num_classes, family)
    check_float_batch(batch, tuple(gan.image_shape), family, "image",
                      "build it with image_size and channels matching the data")
