"""The shared adversarial trainer: the loop, data streaming, EMA, random states, logging."""

from .trainer import Trainer

__all__ = ["Trainer"]
