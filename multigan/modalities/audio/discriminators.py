"""Waveform discriminators the audio families share: MelGAN's multi-scale discriminator, which
HiFi-GAN's MSD is with other widths, groups, kernels and norms.

Every discriminator here returns the output of each of its layers, the last being the score
map, so a family can take feature-matching features and adversarial scores from one pass.
"""

from __future__ import annotations

from typing import Callable, Sequence

from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from ...layers import Conv1dAct

MAX_CHANNELS = 1024  # no layer of a scale discriminator is wider

#: one strided layer of a :class:`ScaleDiscriminator`: (out channels, kernel, stride, groups)
StridedLayer = tuple[int, int, int, int]
Norm = Callable[[nn.Module], nn.Module]


def conv1d(*args, slope: float, act: str | None = None, norm: Norm = weight_norm, **kwargs) -> nn.Module:
    """A Conv1d under ``norm``; with ``act``, its bias and that activation fused (LeakyReLU of
    negative slope ``slope``)."""
    if act is None:
        return norm(nn.Conv1d(*args, **kwargs))
    return norm(Conv1dAct(*args, act=act, alpha=slope if act == "lrelu" else None, **kwargs))


class ScaleDiscriminator(nn.Module):
    """One waveform discriminator: a 15-tap convolution of ``width`` channels (reflection
    padded), the ``strided`` grouped convolutions, a 5-tap convolution of twice the last width
    (at most :data:`MAX_CHANNELS`) and a 3-tap score map, each but the score followed by a
    LeakyReLU of negative slope ``slope``, each under ``norm`` (weight or spectral norm)."""

    def __init__(self, width: int, strided: Sequence[StridedLayer], slope: float, norm: Norm = weight_norm):
        super().__init__()
        layers = [nn.Sequential(nn.ReflectionPad1d(7), conv1d(1, width, 15, slope=slope, act="lrelu", norm=norm))]
        ch = width
        for out, kernel, stride, groups in strided:
            layers.append(conv1d(ch, out, kernel, stride, padding=kernel // 2, groups=groups, slope=slope,
                                 act="lrelu", norm=norm))
            ch = out
        out = min(ch * 2, MAX_CHANNELS)
        layers.append(conv1d(ch, out, 5, padding=2, slope=slope, act="lrelu", norm=norm))
        layers.append(conv1d(out, 1, 3, padding=1, slope=slope, norm=norm))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """``scales`` discriminators on the waveform average-pooled by 1, 2, 4, ... (each pooling
    halves the length exactly); returns, per scale, the list of layer outputs (the last is the
    score map)."""

    def __init__(self, scales: Sequence[nn.Module]):
        super().__init__()
        self.scales = nn.ModuleList(scales)
        self.pool = nn.AvgPool1d(4, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        outputs = []
        for i, d in enumerate(self.scales):
            if i:
                x = self.pool(x)
            outputs.append(d(x))
        return outputs
