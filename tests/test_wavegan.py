import pytest
import torch
import torch.nn.functional as F

import multigan
from multigan import Step
from multigan.errors import ConfigError
from multigan.kernels import phase_shuffle
from multigan.modalities.audio.wavegan import PhaseShuffle


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_paper_parameter_counts():
    gan = multigan.build("wavegan")
    assert round(count(gan.generator) / 1e6, 2) == 19.07
    assert round(count(gan.discriminator) / 1e6, 2) == 17.43


def test_defaults_are_the_papers():
    c = multigan.build("wavegan", model_size=4).config
    assert (c.sample_rate, c.segment_length, c.latent_dim, c.phase_shuffle) == (16000, 16384, 100, 2)
    assert (c.gp_weight, c.n_critic, c.lr_g, c.lr_d, c.betas_g, c.batch_size) == (10.0, 5, 1e-4, 1e-4, (0.5, 0.9), 64)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in multigan.build("wavegan", model_size=4).modules())


@pytest.mark.parametrize("length", [4096, 16384, 32768, 65536])
def test_output_shapes_for_every_segment_length(length):
    gan = multigan.build("wavegan", segment_length=length, model_size=4)
    x = gan.sample(2, seed=0)
    assert x.shape == (2, 1, length) and x.abs().max() <= 1
    assert gan.discriminator(x).shape == (2,)


@pytest.mark.parametrize("taps", [512, 7])
def test_the_post_processing_filter_is_one_learned_filter_before_the_tanh(taps):
    torch.manual_seed(0)
    plain = multigan.build("wavegan", segment_length=4096, model_size=4)
    torch.manual_seed(0)
    gan = multigan.build("wavegan", segment_length=4096, model_size=4, post_filter_length=taps)
    assert count(gan.generator) == count(plain.generator) + taps   # the filter's taps, no bias
    z = torch.rand(3, 100) * 2 - 1
    with torch.no_grad():
        pre_tanh = gan.generator.net[:-2](gan.generator.first_act(gan.generator.project(z).view(3, 32, 16)))
        by_hand = torch.tanh(F.conv1d(F.pad(pre_tanh, ((taps - 1) // 2, taps // 2)), gan.generator.net[-2][1].weight))
        out = gan.generator(z)
    assert out.shape == (3, 1, 4096) and out.abs().max() <= 1
    torch.testing.assert_close(out, by_hand)
    # without it, the generator's weights are those of the paper's (old checkpoints load)
    assert plain.generator.state_dict().keys() == gan.generator.state_dict().keys() - {"net.4.1.weight"}


def test_latent_is_uniform_in_minus_one_one():
    z = multigan.build("wavegan", model_size=4).latent(10000)
    assert z.min() >= -1 and z.max() <= 1 and abs(z.mean().item()) < 0.02 and z.std().item() == pytest.approx(3 ** -0.5, rel=0.02)


def test_bad_segment_length():
    with pytest.raises(ConfigError, match="allowed: 4096, 16384, 32768, 65536"):
        multigan.build("wavegan", segment_length=16000)


def per_example_reference(x, shifts):
    """Phase shuffle one example at a time: reflect-pad, then crop (the reference code's way)."""
    out = []
    for example, s in zip(x, shifts.tolist()):
        left, right = max(s, 0), max(-s, 0)
        padded = torch.nn.functional.pad(example[None], (left, right), mode="reflect")[0]
        out.append(padded[:, right:right + x.shape[-1]])
    return torch.stack(out)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_phase_shuffle_matches_a_per_example_reference(n):
    x = torch.randn(16, 3, 32)
    shifts = torch.randint(-n, n + 1, (16,))
    torch.testing.assert_close(phase_shuffle(x, n, shifts), per_example_reference(x, shifts))


def test_phase_shuffle_reflects_at_the_edges():
    x = torch.arange(6.0).view(1, 1, 6).repeat(2, 1, 1)
    out = phase_shuffle(x, 2, torch.tensor([2, -2]))
    assert out[0, 0].tolist() == [2, 1, 0, 1, 2, 3]
    assert out[1, 0].tolist() == [2, 3, 4, 5, 4, 3]


def test_phase_shuffle_module_draws_shifts_in_range_per_example_or_per_batch():
    x = torch.arange(64.0).view(1, 1, 64).repeat(4000, 1, 1)
    layer = PhaseShuffle(2, per_batch=False).train()
    shift = x[:, 0, 10] - layer(x)[:, 0, 10]  # away from the edges the shift is visible directly
    assert set(shift.long().tolist()) == {-2, -1, 0, 1, 2}
    batch_layer = PhaseShuffle(2, per_batch=True).train()
    for _ in range(5):
        assert len(set((x[:, 0, 10] - batch_layer(x)[:, 0, 10]).tolist())) == 1
    assert torch.equal(layer.eval()(x), x)  # off at evaluation


def test_critic_loss_includes_the_gradient_penalty():
    gan = multigan.build("wavegan", model_size=2)
    real = torch.rand(4, 1, 16384) * 2 - 1
    out = gan.discriminator_loss(real, Step())
    assert set(out) == {"loss", "wasserstein", "gp"}
    assert out["loss"].item() == pytest.approx((-out["wasserstein"] + 10 * out["gp"]).item(), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in gan.discriminator.parameters())
