"""multigan: train GANs on images, audio and text with one registry, one trainer and one CLI.

>>> import multigan
>>> gan = multigan.build("dcgan", image_size=32, channels=1)
>>> multigan.Trainer(gan, data="digits", out_dir="runs/dcgan", max_steps=200).fit()
>>> images = gan.sample(16, seed=0)
"""

from .config import GANConfig
from .errors import ConfigError, DataError, MultiganError, MultiganWarning, TrainingError, UnknownModelError
from .gan import GAN, LatentGAN, Phase, Step
from .modality import Modality
from .registry import build, list_models, register_modality, register_model
from .runs import from_pretrained
from .runs import load_gan as load
from .settings import TrainSettings
from .train import Trainer
# the three modalities' contracts: what each needs from a family
from .modalities.image.contract import ImageGAN
from .modalities.audio.contract import AudioGAN
from .modalities.text.contract import TextGAN

__version__ = "0.1.0"

__all__ = [
    "GAN", "GANConfig", "LatentGAN", "Modality", "Phase", "Step", "Trainer", "TrainSettings",
    "ImageGAN", "AudioGAN", "TextGAN",
    "build", "from_pretrained", "list_models", "load", "register_model", "register_modality",
    "MultiganError", "MultiganWarning", "UnknownModelError", "ConfigError", "DataError", "TrainingError",
]
