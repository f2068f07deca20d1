"""multigan: train GANs on images, audio and text with one registry, one trainer and one CLI.

>>> import multigan
>>> gan = multigan.build("dcgan", image_size=32, channels=1)
>>> multigan.Trainer(gan, data="digits", out_dir="runs/dcgan", max_steps=200).fit()
>>> images = gan.sample(16, seed=0)
"""

from .config import GANConfig
from .errors import ConfigError, DataError, MultiganError, TrainingError, UnknownModelError
from .gan import GAN, LatentGAN, Phase
from .modality import Modality
from .registry import build, list_models, register_modality, register_model
from .train import Trainer
from .train import load_gan as load

__version__ = "0.1.0"

__all__ = [
    "GAN", "GANConfig", "LatentGAN", "Modality", "Phase", "Trainer",
    "build", "list_models", "load", "register_model", "register_modality",
    "MultiganError", "UnknownModelError", "ConfigError", "DataError", "TrainingError",
]
