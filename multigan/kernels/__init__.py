"""Ops the families share, each defined first by a plain-PyTorch reference (the specification)."""

from .phase_shuffle import phase_shuffle
from .sample_categorical import sample_categorical

__all__ = ["phase_shuffle", "sample_categorical"]
