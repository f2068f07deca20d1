"""The image modality: built-in ``digits``, image folders, torchvision datasets, PNG grids,
digits metrics; and its family, DCGAN."""

from ...modality import Modality
from ...registry import register_modality
from . import dcgan  # noqa: F401  (registers the family)
from .data import digits, load_image_path
from .io import write_image_samples
from .metrics import evaluate_digits


def _config_hints(source) -> dict:
    """Build for digits at their own shape (32x32, one channel) unless the user says otherwise."""
    if source not in (None, "digits"):
        return {}
    _, channels, size, _ = digits("train").images.shape
    return {"image_size": size, "channels": channels}


IMAGE = register_modality(Modality(
    name="image",
    default_data="digits",
    datasets={"digits": lambda config, split: digits(split, config.image_size, config.channels)},
    load_path=load_image_path,
    write_samples=write_image_samples,
    evaluate=evaluate_digits,
    config_hints=_config_hints,
    unit="images",
))
