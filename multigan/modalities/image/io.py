"""Writing images a person can look at: a PNG grid per batch of samples."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile images (N, C, H, W) in [-1, 1] into one uint8 array (H', W', C) on a black background."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.zeros(c, rows * (h + padding) + padding, nrow * (w + padding) + padding, dtype=torch.uint8)
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = pixels[i]
    return grid.permute(1, 2, 0).numpy()


#: zlib level of PNGs written to disk (PIL's default), and of PNGs a server sends: about 4x
#: faster to encode than level 6 for some 20% more bytes (DCGAN's 64x64 samples)
PNG_LEVEL, FAST_PNG_LEVEL = 6, 1


def png_bytes(images: Tensor, nrow: int | None = None, padding: int = 2, level: int = PNG_LEVEL) -> bytes:
    """Images (N, C, H, W) in [-1, 1] as the bytes of one PNG grid (:func:`image_grid`),
    compressed at zlib ``level``."""
    array = image_grid(images, nrow, padding)
    out = io.BytesIO()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(out, format="PNG", compress_level=level)
    return out.getvalue()


def save_image_grid(images: Tensor, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    """Save images (N, C, H, W) in [-1, 1] as one PNG grid at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(images, nrow, padding))
    return path


def write_image_samples(samples: Tensor, stem: Path, gan=None) -> list[Path]:
    """The image modality's sample writer: ``<stem>.png``, a grid of all samples."""
    stem = Path(stem)
    path = stem if stem.suffix.lower() == ".png" else stem.with_name(stem.name + ".png")
    return [save_image_grid(samples, path)]


def encode_image_example(image: Tensor, gan=None, level: int = FAST_PNG_LEVEL) -> bytes:
    """One image (C, H, W) in [-1, 1] as the bytes of a PNG of its own size (fast to encode,
    by default: what a server sends)."""
    return png_bytes(image[None], nrow=1, padding=0, level=level)


def encode_image_batch(images: Tensor, gan=None) -> bytes:
    """Images (N, C, H, W) in [-1, 1] as the bytes of one PNG grid, fast to encode."""
    return png_bytes(images, level=FAST_PNG_LEVEL)


def write_image_example(image: Tensor, stem: Path, gan=None) -> Path:
    """One image (C, H, W) in [-1, 1] as ``<stem>.png``: an example of a dataset folder."""
    path = Path(stem).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_image_example(image, level=PNG_LEVEL))
    return path
