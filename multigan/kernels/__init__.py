"""Ops the families share, each a plain-PyTorch reference (the specification) beside a fused
Triton kernel with the same signature; ``impl=`` chooses (see :mod:`multigan.kernels.dispatch`)."""

from .adversarial_loss import adversarial_loss
from .bias_act import bias_act
from .phase_shuffle import phase_shuffle
from .sample_categorical import sample_categorical
from .token_logprobs import token_logprobs

__all__ = ["adversarial_loss", "bias_act", "phase_shuffle", "sample_categorical", "token_logprobs"]
