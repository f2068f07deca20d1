"""The image modality: built-in ``digits``, image folders, torchvision datasets, PNG grids,
digits metrics; and its family, DCGAN. A family implements :class:`ImageGAN`."""

from ...modality import Modality
from ...registry import register_modality
from .contract import ImageGAN
from .data import check_image_batch, digits, load_image_path
from .io import write_image_samples
from .metrics import evaluate_images
from . import dcgan  # noqa: F401,E402  (registers the family)


def _config_hints(source) -> dict:
    """Build for digits at their own shape (32x32, one channel) unless the user says otherwise:
    the :class:`ImageGAN` config fields ``image_size`` and ``channels``."""
    if source not in (None, "digits"):
        return {}
    _, channels, size, _ = digits("train").images.shape
    return {"image_size": size, "channels": channels}


def _digits(gan: ImageGAN, split: str):
    channels, size, _ = gan.image_shape
    return digits(split, size, channels)


IMAGE = register_modality(Modality(
    name="image",
    default_data="digits",
    datasets={"digits": _digits},
    load_path=load_image_path,
    write_samples=write_image_samples,
    check_batch=check_image_batch,
    evaluate=evaluate_images,
    config_hints=_config_hints,
    unit="images",
))

__all__ = ["IMAGE", "ImageGAN"]
