import pytest
import torch
from torch import nn

import multigan
from multigan import registry
from multigan.layers import Act
from multigan.errors import ConfigError


@pytest.mark.parametrize("size, channels", [(32, 1), (64, 3), (128, 3)])
def test_shapes_for_power_of_two_sizes(size, channels):
    gan = multigan.build("dcgan", image_size=size, channels=channels, g_width=8, d_width=8)
    x = gan.sample(3, seed=0)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert gan.discriminator(x).shape == (3,)


def test_paper_architecture_at_64x64():
    gan = multigan.build("dcgan")
    g_params = sum(p.numel() for p in gan.generator.parameters())
    d_params = sum(p.numel() for p in gan.discriminator.parameters())
    # z100 -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64, and its mirror image
    assert (g_params, d_params) == (3_576_704, 2_765_568)
    g_layers, d_layers = list(gan.generator.modules()), list(gan.discriminator.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g_layers) == 4
    assert isinstance(g_layers[-1], nn.Tanh) and [m.act for m in g_layers if isinstance(m, Act)] == ["relu"] * 4
    assert [(m.act, m.alpha) for m in d_layers if isinstance(m, Act)] == [("lrelu", 0.2)] * 4
    assert not isinstance(d_layers[2], nn.BatchNorm2d)  # no BatchNorm on D's input layer
    weights = torch.cat([m.weight.flatten() for m in g_layers + d_layers if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert weights.mean().abs() < 1e-3 and abs(weights.std().item() - 0.02) < 1e-3


def test_widths_are_configurable():
    gan = multigan.build("dcgan", image_size=32, g_width=16, d_width=4)
    convs = [m for m in gan.generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [64, 32, 16, 3]
    convs = [m for m in gan.discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 1]


def test_sampling_is_seeded_and_leaves_global_rng_alone():
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8)
    state = torch.get_rng_state()
    a, b = gan.sample(4, seed=7), gan.sample(4, seed=7)
    assert torch.equal(a, b) and not torch.equal(a, gan.sample(4, seed=8))
    assert torch.equal(state, torch.get_rng_state())
    assert gan.generator.training  # restored after sampling in eval mode


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "number of samples >= 1"),
    (dict(n=2, cond=torch.zeros(2)), "unconditional"),
])
def test_bad_sample_requests(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        multigan.build("dcgan", image_size=32).sample(**kwargs)


def test_wrong_dtype_batch_is_reported():
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, d_width=8)
    with pytest.raises(multigan.DataError, match="float image data"):
        registry.get_modality("image").check_batch(torch.zeros(4, 1, 32, 32, dtype=torch.uint8), gan)
