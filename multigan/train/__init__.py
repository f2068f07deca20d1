"""The shared adversarial trainer: the loop, checkpoints, data streaming, EMA, logging."""

from .checkpoint import load_gan
from .trainer import Trainer

__all__ = ["Trainer", "load_gan"]
