"""Layers the families share: a convolution or linear map followed by its activation, and
spectral normalisation (:func:`spectral_normed`).

Eager PyTorch runs ``conv + bias`` and then the activation as two passes over the output (and
two more in the backward). Where the fused kernel runs (see :mod:`multigan.kernels.dispatch`),
these layers compute the convolution without its bias and hand bias, activation and gain to
:func:`multigan.kernels.bias_act`, one pass each way. Elsewhere they run the plain
``act(conv(x) + b)``, so the CPU path is exactly the eager one. Parameters and their names are
those of the wrapped ``torch.nn`` layer, so parameter counts and initialisation do not change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from .kernels import bias_act
from .kernels.dispatch import check_impl, fused_runs


class _BiasAct:
    """Mixin: ``act(layer(x))`` with the bias add fused into the activation when it can be."""

    bias: Tensor | None

    def _set_act(self, act: str, alpha: float | None, impl: str) -> None:
        self.act, self.alpha, self.impl = act, alpha, check_impl(impl)

    def _linear(self, x: Tensor, bias: Tensor | None) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if fused_runs("bias_act", self.impl, x.device):
            return bias_act(self._linear(x, None), self.bias, self.act, self.alpha, impl=self.impl)
        return bias_act(self._linear(x, self.bias), None, self.act, self.alpha, impl="ref")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, act={self.act}" + (f", alpha={self.alpha}" if self.alpha is not None else "")


class LinearAct(_BiasAct, nn.Linear):
    """``nn.Linear`` followed by ``act`` (``"linear"``, ``"relu"``, ``"lrelu"``, ``"tanh"``, ``"sigmoid"``)."""

    def __init__(self, in_features: int, out_features: int, act: str, alpha: float | None = None,
                 bias: bool = True, impl: str = "auto"):
        super().__init__(in_features, out_features, bias=bias)
        self._set_act(act, alpha, impl)

    def _linear(self, x: Tensor, bias: Tensor | None) -> Tensor:
        # bias_act adds along dimension 1; a linear map's features are the last dimension
        return F.linear(x, self.weight, bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise ValueError(f"LinearAct takes (N, features) inputs, got shape {tuple(x.shape)}")
        return super().forward(x)


class Conv1dAct(_BiasAct, nn.Conv1d):
    """``nn.Conv1d`` followed by ``act``; arguments as ``nn.Conv1d`` plus ``act``, ``alpha``, ``impl``."""

    def __init__(self, *args, act: str, alpha: float | None = None, impl: str = "auto", **kwargs):
        super().__init__(*args, **kwargs)
        self._set_act(act, alpha, impl)

    def _linear(self, x: Tensor, bias: Tensor | None) -> Tensor:
        return self._conv_forward(x, self.weight, bias)


class ConvTranspose1dAct(_BiasAct, nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` followed by ``act``; arguments as ``nn.ConvTranspose1d`` plus
    ``act``, ``alpha``, ``impl``."""

    def __init__(self, *args, act: str, alpha: float | None = None, impl: str = "auto", **kwargs):
        super().__init__(*args, **kwargs)
        self._set_act(act, alpha, impl)

    def _linear(self, x: Tensor, bias: Tensor | None) -> Tensor:
        return F.conv_transpose1d(x, self.weight, bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class Act(nn.Module):
    """An activation alone (after a normalisation layer), through :func:`bias_act`."""

    def __init__(self, act: str, alpha: float | None = None, impl: str = "auto"):
        super().__init__()
        self.act, self.alpha, self.impl = act, alpha, check_impl(impl)

    def forward(self, x: Tensor) -> Tensor:
        return bias_act(x, None, self.act, self.alpha, impl=self.impl)

    def extra_repr(self) -> str:
        return f"act={self.act}" + (f", alpha={self.alpha}" if self.alpha is not None else "")


def in_float32(layer: nn.Module, x: Tensor) -> Tensor:
    """``layer(x)`` in float32 with autocast off: for a generator's output layer under mixed
    precision. Its output is the sample itself, and a bf16 waveform carries rounding noise near
    -50 dB, which a discriminator hears and the generator cannot remove. Outside autocast this is
    exactly ``layer(x)``."""
    with torch.autocast(x.device.type, enabled=False):
        return layer(x.float())


def has_spectral_norm(module: nn.Module) -> bool:
    """Whether ``module`` or a submodule is :func:`spectral_normed`: its power iteration updates
    buffers in place on every training forward, which ``torch.compile``'s backward cannot
    follow when the module runs twice before one backward (real and fake through D)."""
    return any(isinstance(p, nn.utils.parametrizations._SpectralNorm)
               for m in module.modules() if parametrize.is_parametrized(m)
               for ps in m.parametrizations.values() for p in ps)


def spectral_normed(module: nn.Module, enabled: bool = True) -> nn.Module:
    """``module`` with its weight spectrally normalised when ``enabled`` (Miyato et al. 2018):
    divided by an estimate of its largest singular value, refined by one power iteration per
    forward in training mode (``torch.nn.utils.parametrizations.spectral_norm``; a
    convolution's weight is read as a matrix of ``out_channels`` rows). Any family switches it
    on per layer with a ``spectral_norm`` config field; :func:`multigan.inference.inference_copy`
    folds it into a plain weight for generation. Returns ``module`` itself when not ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module
