"""What the image modality needs from a family: :class:`ImageGAN`."""

from __future__ import annotations

from ...gan import GAN


class ImageGAN(GAN):
    """An image family: ``sample(n)`` gives (n, C, H, W) in [-1, 1], and batches are float
    images (N, C, H, W) in [-1, 1].

    The image modality reads :attr:`image_shape` only. By default it comes from the config
    fields ``channels`` and ``image_size`` (square images), which are also the fields the
    modality sets from the data when the user does not (the built-in digits: 32x32, one
    channel); a family with other fields overrides :attr:`image_shape`.
    """

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of the images the family makes and trains on."""
        size = self.config.image_size
        return (self.config.channels, size, size)
