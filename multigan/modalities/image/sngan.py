"""SNGAN (Miyato et al., ICLR 2018) with the projection discriminator (Miyato & Koyama, ICLR 2018):
a class-conditional ResNet GAN, the settings of the papers' CIFAR-10 experiments.

G: z -> a linear map to 4x4 feature maps -> one residual up-block per doubling (conditional
BatchNorm, ReLU, nearest 2x upsampling, 3x3 convolutions; a 1x1 convolution on the shortcut)
-> BatchNorm, ReLU, a 3x3 convolution to the image, tanh.

D: residual down-blocks (ReLU, 3x3 convolutions, 2x2 average pooling) to 8x8, two more blocks at
8x8, ReLU, a sum over positions, then ``linear(h) + <embed(y), h>``: the projection of the
class embedding onto the features. Spectral norm on every layer, embedding included.

Hinge loss, five D updates per G update, Adam 2e-4 with betas (0, 0.9). ``num_classes=0``
gives the unconditional SNGAN (plain BatchNorm in G, no projection in D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ...config import GANConfig, make_config, option
from ...gan import LatentGAN, Losses, Step
from ...kernels import adversarial_loss
from ...labels import check_label_names
from ...layers import spectral_normed
from ...registry import register_model
from .contract import ImageGAN, check_power_of_two


@dataclass
class SNGANConfig(GANConfig):
    """The CIFAR-10 settings of Miyato & Koyama (2018): 32x32 RGB, 10 classes, z of 128, G 256
    channels wide and D 128, hinge loss, n_critic 5, Adam 2e-4 with betas (0, 0.9), batch 64."""

    image_size: int = option(32, "height and width in pixels, a power of two >= 32", low=32)
    channels: int = option(3, "1 (grayscale) or 3 (RGB)", choices=(1, 3))
    num_classes: int = option(10, "classes G and D are conditioned on; 0: unconditional", low=0)
    label_names: tuple[str, ...] = option((), "the classes' names, in index order (default: the indices)")
    latent_dim: int = option(128, "size of z", low=1)
    g_width: int = option(256, "channels of every residual block of G", low=1)
    d_width: int = option(128, "channels of every residual block of D", low=1)
    spectral_norm: bool = option(True, "spectral norm on every layer of D")
    loss: str = option("hinge", "adversarial loss", choices=("hinge", "non_saturating", "least_squares"))
    n_critic: int = option(5, "discriminator steps per generator step", low=1)
    # lr_g = lr_d = 2e-4: GANConfig's defaults are the papers'
    betas_g: tuple[float, float] = option((0.0, 0.9), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.0, 0.9), "discriminator Adam betas", low=0, high=1, high_open=True)
    batch_size: int = option(64, "default batch size", low=1)
    max_steps: int = option(2000, "default number of generator steps (the paper: 50,000)", low=1)

    def validate(self) -> None:
        check_power_of_two(self.image_size)
        check_label_names(self.label_names, self.num_classes)


def _init_weights(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases, gain sqrt(2) for the 3x3 convolutions of the
    residual paths and 1 elsewhere (shortcuts, linear maps, embeddings), as the authors' code
    initialises; a spectral-normed layer's underlying weight."""
    if not isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)) or isinstance(module, ClassTable):
        return
    weight = (module.parametrizations.weight.original if parametrize.is_parametrized(module, "weight")
              else module.weight)
    wide = isinstance(module, nn.Conv2d) and module.kernel_size != (1, 1)
    nn.init.xavier_uniform_(weight, math.sqrt(2) if wide else 1.0)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


class ClassTable(nn.Embedding):
    """A conditional BatchNorm's per-class scale or shift (kept from :func:`_init_weights`)."""


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; Miyato &
    Koyama 2018): ``gamma[y] * normalise(x) + beta[y]``, gamma starting at 1 and beta at 0.
    With ``num_classes=0`` it is a plain affine BatchNorm2d.

    Args:
        channels: the feature maps' channels.
        num_classes: classes (rows of the gamma and beta tables); 0: unconditional.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gamma, self.beta = ClassTable(num_classes, channels), ClassTable(num_classes, channels)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        x = self.bn(x)
        if y is None:
            return x
        return self.gamma(y)[:, :, None, None] * x + self.beta(y)[:, :, None, None]


class GeneratorBlock(nn.Module):
    """Residual up-block: ``conv(relu(cbn(up(conv(relu(cbn(x))))))) + conv1x1(up(x))``."""

    def __init__(self, in_ch: int, out_ch: int, num_classes: int):
        super().__init__()
        self.bn1, self.bn2 = ConditionalBatchNorm2d(in_ch, num_classes), ConditionalBatchNorm2d(out_ch, num_classes)
        self.conv1, self.conv2 = nn.Conv2d(in_ch, out_ch, 3, 1, 1), nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class SNGANGenerator(nn.Module):
    """(z (N, latent_dim), labels (N,) or None) -> images (N, channels, size, size) in [-1, 1]."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int, num_classes: int):
        super().__init__()
        self.width = width
        self.linear = nn.Linear(latent_dim, 4 * 4 * width)
        self.blocks = nn.ModuleList(GeneratorBlock(width, width, num_classes)
                                    for _ in range(int(math.log2(image_size)) - 2))
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        self.num_classes = num_classes
        self.apply(_init_weights)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None and self.num_classes:  # latents alone (the EMA's BatchNorm statistics): every class in turn
            y = torch.arange(len(z), device=z.device) % self.num_classes
        # z.shape[0], not len(z): a symbolic size under torch.export (ONNX export with a dynamic batch)
        h = self.linear(z).view(z.shape[0], self.width, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return self.out(h)


class DiscriminatorBlock(nn.Module):
    """Residual block: ``pool(conv(relu(conv(relu(x))))) + pool(conv1x1(x))``; the first block
    (``first``) reads the image, so it skips the leading ReLU and pools its shortcut first."""

    def __init__(self, in_ch: int, out_ch: int, down: bool, first: bool, sn: bool):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = spectral_normed(nn.Conv2d(in_ch, out_ch, 3, 1, 1), sn)
        self.conv2 = spectral_normed(nn.Conv2d(out_ch, out_ch, 3, 1, 1), sn)
        self.shortcut = spectral_normed(nn.Conv2d(in_ch, out_ch, 1), sn) if down or in_ch != out_ch else None

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: Tensor) -> Tensor:
        h = self._pool(self.conv2(F.relu(self.conv1(x if self.first else F.relu(x)))))
        if self.shortcut is None:
            return h + x
        return h + (self.shortcut(self._pool(x)) if self.first else self._pool(self.shortcut(x)))


class ProjectionDiscriminator(nn.Module):
    """(images (N, channels, size, size), labels (N,) or None) -> logits (N,):
    ``linear(phi(x)) + <embed(y), phi(x)>``, ``phi`` the residual blocks, ReLU and a sum over
    positions (Miyato & Koyama 2018, eq. 3)."""

    def __init__(self, image_size: int, channels: int, width: int, num_classes: int, sn: bool):
        super().__init__()
        n_down = int(math.log2(image_size)) - 3  # down to 8x8
        blocks = [DiscriminatorBlock(channels, width, down=True, first=True, sn=sn)]
        blocks += [DiscriminatorBlock(width, width, down=True, first=False, sn=sn) for _ in range(n_down - 1)]
        blocks += [DiscriminatorBlock(width, width, down=False, first=False, sn=sn) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_normed(nn.Linear(width, 1), sn)
        self.embed = spectral_normed(nn.Embedding(num_classes, width), sn) if num_classes else None
        self.apply(_init_weights)

    def features(self, x: Tensor) -> Tensor:
        """phi(x): (N, width)."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.features(x)
        out = self.linear(h).flatten()
        if self.embed is not None and y is not None:
            out = out + (self.embed(y) * h).sum(dim=1)
        return out


class SNGAN(LatentGAN, ImageGAN):
    """SNGAN, class-conditional through conditional BatchNorm in G and the projection in D."""

    config: SNGANConfig
    latent_distribution = "normal"

    def __init__(self, config: SNGANConfig):
        k = config.num_classes
        super().__init__(config,
                         SNGANGenerator(config.latent_dim, config.image_size, config.channels, config.g_width, k),
                         ProjectionDiscriminator(config.image_size, config.channels, config.d_width, k,
                                                 config.spectral_norm))

    def discriminator_loss(self, batch: Any, step: Step) -> Losses:
        real, labels = self.split_labels(batch)
        with torch.no_grad():
            fake = self.fake_batch(batch)
        real_logits, fake_logits = self.discriminator(real, labels), self.discriminator(fake, labels)
        return {"loss": adversarial_loss(real_logits, fake_logits, self.config.loss, impl=self.impl),
                "real_logit": real_logits.mean(), "fake_logit": fake_logits.mean()}

    def generator_loss(self, batch: Any, step: Step) -> Losses:
        labels = self.split_labels(batch)[1]
        return {"loss": adversarial_loss(None, self.discriminator(self.fake_batch(batch), labels),
                                         self.config.loss, impl=self.impl)}


@register_model("sngan", modality="image", config=SNGANConfig)
def sngan(**overrides) -> SNGAN:
    """SNGAN with the projection discriminator, the papers' CIFAR-10 defaults (32x32x3, 10
    classes); on the built-in digits the modality sets one channel."""
    return SNGAN(make_config(SNGANConfig, overrides))
