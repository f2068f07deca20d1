"""The image modality: built-in ``digits``, image folders, torchvision datasets, PNG grids,
digits metrics; and its families, DCGAN and SNGAN. A family implements :class:`ImageGAN`; a
class-conditional one (``num_classes`` above 0) trains on ``(images, labels)`` pairs."""

from pathlib import Path

from ...modality import Modality
from ...labels import Labelled, folder_labels
from ...registry import register_modality
from .contract import ImageGAN
from .data import check_image_batch, digits, image_files, load_image_path
from .io import encode_image_batch, encode_image_example, write_image_example, write_image_samples
from .metrics import evaluate_images
from . import dcgan, sngan  # noqa: F401,E402  (register the families)


def _config_hints(source) -> dict:
    """What the data dictates unless the user says otherwise: for digits their shape (32x32, one
    channel) and classes (10); for a folder labelled by a ``labels.csv`` or by class subfolders
    its classes (the files are listed, not read). These are the
    :class:`ImageGAN` config fields ``image_size`` and ``channels`` and, for a family that has
    them, ``num_classes`` and ``label_names``."""
    if source in (None, "digits"):
        data = digits("train")
        _, channels, size, _ = data.images.shape
        return {"image_size": size, "channels": channels, "num_classes": len(data.label_names)}
    root = Path(source)
    labelled = folder_labels(root, image_files(root)) if root.is_dir() else None
    if labelled is None:
        return {}
    names, _ = labelled
    return {"num_classes": len(names), "label_names": names}


def labelled_for(dataset, gan: ImageGAN):
    """``dataset`` as ``gan`` trains on it: images, or ``(image, label)`` pairs for a
    class-conditional family (whose class count must be the data's)."""
    if not gan.num_classes:
        return dataset
    return Labelled(dataset, "use the built-in digits, or a folder with one subfolder of images per class "
                             "or a labels.csv beside the images with columns file,label",
                    gan.num_classes, gan.name or type(gan).__name__)


def _load_path(source: str, gan: ImageGAN, split: str, skip_bad_files: bool):
    return labelled_for(load_image_path(source, gan, split, skip_bad_files), gan)


def _digits(gan: ImageGAN, split: str):
    channels, size, _ = gan.image_shape
    return labelled_for(digits(split, size, channels), gan)


IMAGE = register_modality(Modality(
    name="image",
    default_data="digits",
    datasets={"digits": _digits},
    load_path=_load_path,
    write_samples=write_image_samples,
    write_example=write_image_example,
    media=("png", "image/png"),
    encode_example=encode_image_example,
    encode_batch=encode_image_batch,
    check_batch=check_image_batch,
    evaluate=evaluate_images,
    config_hints=_config_hints,
    unit="images",
    batch_units=lambda batch, gan: len(batch[0] if gan.num_classes else batch),   # (images, labels) pairs
))

__all__ = ["IMAGE", "ImageGAN"]
