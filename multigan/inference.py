"""Networks made ready for inference: reparametrisations folded into plain weights.

Weight norm and spectral norm (``torch.nn.utils.parametrizations``) recompute a layer's weight
from its parts on every forward: ``g * v / |v|``, or ``W / sigma``. That helps training and
only costs time when generating, so the inference scripts of MelGAN and HiFi-GAN remove weight
norm before vocoding. :func:`fold_parametrizations` does that for any module, and
:func:`inference_copy` for a GAN's generator; the outputs stay the same.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from .gan import GAN


def fold_parametrizations(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` in eval mode, without gradients, in which every
    ``torch.nn.utils.parametrize`` parametrisation (weight norm, spectral norm, ...) is replaced
    by a plain parameter holding the tensor it computes. The copy computes what ``module``
    computes in eval mode (spectral norm's power iteration does not run in eval mode, so its
    last estimate is the one folded in); ``module`` itself is left as it was."""
    # a folded tensor comes back as a parameter only if it requires grad when computed (else it
    # becomes a buffer): copy and fold with autograd on, even when called under no_grad or
    # inference_mode
    with torch.inference_mode(False), torch.enable_grad():
        folded = copy.deepcopy(module).eval().requires_grad_(True)
        for layer in list(folded.modules()):
            if parametrize.is_parametrized(layer):
                # remove_parametrizations deletes the tensor's property from the layer's class, and
                # a deep copy shares its class with the original layer: give the copy its own class
                cls = type(layer)
                layer.__class__ = type(cls.__name__, cls.__bases__, dict(cls.__dict__))
                for name in list(layer.parametrizations):
                    parametrize.remove_parametrizations(layer, name, leave_parametrized=True)
    return folded.requires_grad_(False)


def inference_copy(gan: GAN) -> GAN:
    """A copy of ``gan`` to generate with: its generator (and EMA generator, if any) passed
    through :func:`fold_parametrizations`, the discriminator shared with ``gan`` (not copied,
    since generating never runs it). ``gan.sample`` and ``gan.generate`` work on the copy as on
    ``gan`` and give the same samples."""
    # deepcopy takes what the memo already maps an object to instead of copying the object
    memo = {id(gan.discriminator): gan.discriminator}
    for net in (gan.generator, gan.generator_ema):
        if net is not None:
            memo[id(net)] = fold_parametrizations(net)
    return copy.deepcopy(gan, memo)
