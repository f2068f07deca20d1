"""DCGAN (Radford, Metz & Chintala, 2015): all-convolutional G and D with BatchNorm.

G maps z ~ N(0, I) through a 4x4 projection and stride-2 transposed convolutions (BatchNorm,
ReLU; tanh output); D mirrors it with stride-2 convolutions (LeakyReLU 0.2, BatchNorm after
the first layer). Weights start from N(0, 0.02). Any power-of-two size from 32 up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ... import losses
from ...config import GANConfig, make_config, option
from ...gan import LatentGAN, Losses, Step
from ...kernels import adversarial_loss
from ...layers import Act, spectral_normed
from ...registry import register_model
from .contract import ImageGAN, check_power_of_two


@dataclass
class DCGANConfig(GANConfig):
    """The paper's settings: 64x64 RGB, z of 100, Adam 2e-4 with beta1 0.5, batch 128."""

    image_size: int = option(64, "height and width in pixels, a power of two >= 32", low=32)
    channels: int = option(3, "1 (grayscale) or 3 (RGB)", choices=(1, 3))
    latent_dim: int = option(100, "size of z", low=1)
    g_width: int = option(64, "channels of G's last hidden layer (half resolution), doubled per halving", low=1)
    d_width: int = option(64, "channels of D's first layer (half resolution), doubled per halving", low=1)
    loss: str = option("non_saturating", "adversarial loss", choices=tuple(losses.ADVERSARIAL_LOSSES))
    spectral_norm: bool = option(False, "spectral norm on D's convolutions, in place of its BatchNorm (SN-DCGAN, "
                                        "Miyato et al. 2018)")
    # lr_g, lr_d = 2e-4 and betas = (0.5, 0.999): GANConfig's defaults are the paper's
    batch_size: int = option(128, "default batch size", low=1)
    max_steps: int = option(1500, "default number of generator steps", low=1)

    def validate(self) -> None:
        check_power_of_two(self.image_size)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, size, size) in [-1, 1]."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int):
        super().__init__()
        n_up = int(math.log2(image_size)) - 2  # 4x4 -> image_size in stride-2 steps
        ch = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), Act("relu")]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), Act("relu")]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, channels, size, size) -> logits (N,); with ``spectral_norm`` every convolution
    is spectrally normalised and the BatchNorm layers are left out."""

    def __init__(self, image_size: int, channels: int, width: int, spectral_norm: bool = False):
        super().__init__()
        n_down = int(math.log2(image_size)) - 2
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), Act("lrelu", 0.2)]
        ch = width
        for _ in range(n_down - 1):
            norm = [] if spectral_norm else [nn.BatchNorm2d(ch * 2)]
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), *norm, Act("lrelu", 0.2)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        for layer in layers:  # initialised before spectral norm wraps the weights
            layer.apply(_init_weights)
        self.net = nn.Sequential(*(spectral_normed(layer, spectral_norm) if isinstance(layer, nn.Conv2d) else layer
                                   for layer in layers))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


class DCGAN(LatentGAN, ImageGAN):
    """DCGAN with a configurable adversarial loss (the paper's is non-saturating)."""

    config: DCGANConfig
    latent_distribution = "normal"  # z ~ N(0, I)
    fast_memory_format = torch.channels_last
    shares_fakes = True

    def __init__(self, config: DCGANConfig):
        super().__init__(config,
                         DCGANGenerator(config.latent_dim, config.image_size, config.channels, config.g_width),
                         DCGANDiscriminator(config.image_size, config.channels, config.d_width, config.spectral_norm))

    def discriminator_loss(self, batch: Tensor, step: Step) -> Losses:
        real_logits, fake_logits = self.discriminator(batch), self.discriminator(self.discriminator_fakes(batch, step))
        return {"loss": adversarial_loss(real_logits, fake_logits, self.config.loss, impl=self.impl),
                "real_logit": real_logits.mean(), "fake_logit": fake_logits.mean()}

    def generator_loss(self, batch: Tensor, step: Step) -> Losses:
        fake = self.generator_fakes(batch, step)
        return {"loss": adversarial_loss(None, self.discriminator(fake), self.config.loss, impl=self.impl)}


@register_model("dcgan", modality="image", config=DCGANConfig)
def dcgan(**overrides) -> DCGAN:
    """DCGAN with the paper's defaults (64x64x3); ``image_size=32, channels=1`` for digits."""
    return DCGAN(make_config(DCGANConfig, overrides))
