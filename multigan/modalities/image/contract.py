"""What the image modality needs from a family: :class:`ImageGAN`."""

from __future__ import annotations

import math

from ...errors import ConfigError
from ...gan import GAN
from ...labels import names_of


def check_power_of_two(image_size: int) -> None:
    """Raise :class:`ConfigError` unless ``image_size`` is a power of two (the families whose
    networks halve and double the resolution: DCGAN, SNGAN)."""
    if image_size & (image_size - 1):
        raise ConfigError(f"config key 'image_size': got {image_size}, allowed: a power of two "
                          f">= 32 (nearest: {2 ** round(math.log2(image_size))})")


class ImageGAN(GAN):
    """An image family: ``sample(n)`` gives (n, C, H, W) in [-1, 1], and batches are float
    images (N, C, H, W) in [-1, 1].

    The image modality reads :attr:`image_shape` and :attr:`num_classes` only. By default they
    come from the config fields ``channels`` and ``image_size`` (square images) and
    ``num_classes`` (absent: 0), which are also the fields the modality sets from the data when
    the user does not (the built-in digits: 32x32, one channel, 10 classes); a family with other
    fields overrides the properties.

    A class-conditional family (``num_classes`` above 0) trains on ``(images, labels)`` pairs,
    the labels int64 class indices, and samples with ``sample(n, cond=...)``
    (:func:`multigan.labels.label_indices`); :attr:`label_names` name its classes.
    """

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images the family makes and trains on."""
        size = self.config.image_size
        return (self.config.channels, size, size)

    @property
    def num_classes(self) -> int:
        """How many classes the family is conditioned on; 0: unconditional."""
        return getattr(self.config, "num_classes", 0)

    @property
    def label_names(self) -> tuple[str, ...]:
        """The classes' names (the config's ``label_names``, else the indices as text)."""
        return names_of(getattr(self.config, "label_names", ()), self.num_classes)
