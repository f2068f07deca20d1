"""The families' networks give the same outputs and gradients through the fused kernels
(Triton, interpreted on the CPU) as through plain PyTorch, the gradient penalty included."""

import copy

import pytest
import torch

import multigan
from multigan import losses

SMALL = {
    "dcgan": {"image_size": 32, "channels": 1, "g_width": 4, "d_width": 4},
    "wavegan": {"model_size": 2},
    "melgan": {"g_width": 4, "d_width": 4, "segment_length": 1024, "residual_layers": 1, "d_layers": 2},
}


def _with_impl(module: torch.nn.Module, impl: str) -> torch.nn.Module:
    module = copy.deepcopy(module)
    for m in module.modules():
        if hasattr(m, "impl"):
            m.impl = impl
    return module


def _inputs(name, gan):
    if name == "melgan":
        wave = torch.rand(2, 1, SMALL[name]["segment_length"]) * 1.6 - 0.8
        return gan.mel(wave), wave
    if name == "dcgan":
        return gan.latent(2), torch.rand(2, 1, 32, 32) * 2 - 1
    return gan.latent(2), torch.rand(2, 1, 16384) * 2 - 1


def _score(d_out):
    """A scalar from a discriminator's output (MelGAN: every scale's every layer)."""
    if isinstance(d_out, list):
        return sum((f.float() * torch.linspace(-1, 1, f.numel()).view(f.shape)).sum()
                   for scale in d_out for f in scale)
    return (d_out.float() * torch.linspace(-1, 1, d_out.numel())).sum()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fused_networks_match_plain_pytorch(name):
    torch.manual_seed(0)
    gan = multigan.build(name, **SMALL[name])
    g_in, real = _inputs(name, gan)
    results = {}
    for impl in ("ref", "triton"):
        g, d = _with_impl(gan.generator, impl), _with_impl(gan.discriminator, impl)
        d.eval()  # phase shuffle draws random shifts in training mode
        fake = g(g_in)
        loss = _score(d(fake)) + _score(d(real))
        loss.backward()
        results[impl] = (fake.detach(), loss.detach(),
                         [p.grad for p in g.parameters()], [p.grad for p in d.parameters()])
    ref, fused = results["ref"], results["triton"]
    torch.testing.assert_close(fused[0], ref[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused[1], ref[1], rtol=1e-4, atol=1e-4)
    for a, b in zip(fused[2] + fused[3], ref[2] + ref[3]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_wavegan_gradient_penalty_through_fused_kernels_matches():
    torch.manual_seed(0)
    gan = multigan.build("wavegan", model_size=2)
    real, fake = torch.rand(2, 1, 16384) * 2 - 1, torch.rand(2, 1, 16384) * 2 - 1
    grads = {}
    for impl in ("ref", "triton"):
        d = _with_impl(gan.discriminator, impl)
        torch.manual_seed(1)  # the same phase shifts and interpolation points in both
        gp = losses.gradient_penalty(d, real, fake)
        gp.backward()
        grads[impl] = (gp.detach(), [p.grad for p in d.parameters()])
    torch.testing.assert_close(grads["triton"][0], grads["ref"][0], rtol=1e-4, atol=1e-6)
    params = list(gan.discriminator.parameters())
    for p, a, b in zip(params, grads["triton"][1], grads["ref"][1]):
        # a bias whose penalty gradient is identically zero may be left out of either graph
        a, b = (torch.zeros_like(p) if g is None else g for g in (a, b))
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-6)
    assert sum(g is not None for g in grads["triton"][1]) >= len(params) - 2
