"""adversarial_loss: the fused kernel against multigan.losses, values, gradients, double backward."""

import pytest
import torch

from multigan import losses
from multigan.errors import ConfigError
from multigan.kernels.adversarial_loss import KINDS, adversarial_loss

# (real shape, fake shape): critic values, patch maps, multi-block tensors, mismatched shapes
SHAPES = [((16,), (16,)), ((7, 3), (7, 3)), ((4, 1, 30, 31), (4, 1, 30, 31)), ((3, 1, 2049), (5, 1, 77)),
          ((1,), (2, 3, 4, 5))]


def _logits(shape, dtype):
    z = torch.randn(shape) * 3
    z.view(-1)[0] = 40.0          # softplus and sigmoid far in their tails
    z.view(-1)[-1] = -40.0
    return z.to(dtype)


def _loss_and_grads(impl, kind, real, fake, scale=2.5):
    fake = fake.clone().requires_grad_(True)
    real = None if real is None else real.clone().requires_grad_(True)
    loss = adversarial_loss(real, fake, kind, impl=impl)
    (loss * scale).backward()
    return loss.detach(), (None if real is None else real.grad), fake.grad


def test_every_loss_of_multigan_losses_is_fused():
    assert set(KINDS) == set(losses.ADVERSARIAL_LOSSES)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("player", ["discriminator", "generator"])
@pytest.mark.parametrize("kind", list(losses.ADVERSARIAL_LOSSES))
@pytest.mark.parametrize("real_shape,fake_shape", SHAPES)
def test_fused_matches_multigan_losses(real_shape, fake_shape, kind, player, dtype):
    real = _logits(real_shape, dtype) if player == "discriminator" else None
    fake = _logits(fake_shape, dtype)
    expected = (losses.generator_loss(kind, fake) if real is None else
                losses.discriminator_loss(kind, real, fake))
    fused = _loss_and_grads("triton", kind, real, fake)
    assert fused[0].dtype == torch.float32 and fused[0].shape == ()
    torch.testing.assert_close(fused[0], expected, rtol=1e-6, atol=1e-6)
    ref = _loss_and_grads("ref", kind, real, fake)
    torch.testing.assert_close(ref[0], expected, rtol=0, atol=0)
    # bf16: the saved gradient and its product with the incoming one are each rounded
    tol = {"rtol": 1e-5, "atol": 1e-8} if dtype == torch.float32 else {"rtol": 2e-2, "atol": 1e-5}
    for expected_grad, grad in zip(ref[1:], fused[1:]):
        if expected_grad is None:
            assert grad is None
        else:
            assert grad.dtype == dtype and grad.shape == expected_grad.shape
            torch.testing.assert_close(grad, expected_grad, **tol)


def test_the_values_are_the_textbook_ones():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    softplus = torch.nn.functional.softplus
    expected = {
        ("non_saturating", "d"): (softplus(-real).mean() + softplus(fake).mean()).item(),
        ("non_saturating", "g"): softplus(-fake).mean().item(),
        ("minimax", "g"): -softplus(fake).mean().item(),
        ("hinge", "d"): (0.0 + 2.0) / 2 + (1.5 + 0.0) / 2,
        ("hinge", "g"): 1.25,
        ("wasserstein", "d"): -1.25 - 0.5,
        ("least_squares", "d"): 0.5 * (1.0 + 4.0) / 2 + 0.5 * (0.25 + 9.0) / 2,
        ("least_squares", "g"): 0.5 * (0.25 + 16.0) / 2,
    }
    for (kind, player), value in expected.items():
        loss = adversarial_loss(real if player == "d" else None, fake, kind, impl="triton")
        assert loss.item() == pytest.approx(value, rel=1e-6)


def test_gradients_only_for_the_logits_that_ask_and_none_kept_without_a_graph():
    real, fake = torch.randn(6, 5).requires_grad_(True), torch.randn(9)
    adversarial_loss(real, fake, "hinge", impl="triton").backward()
    torch.testing.assert_close(real.grad, torch.where(real < 1, -1.0 / 30, 0.0).detach())
    with torch.no_grad():
        loss = adversarial_loss(real, fake, "hinge", impl="triton")
    assert not loss.requires_grad
    torch.testing.assert_close(loss, losses.discriminator_loss("hinge", real, fake).detach())


@pytest.mark.parametrize("kind", list(losses.ADVERSARIAL_LOSSES))
def test_double_backward_through_the_fused_loss_matches_the_reference(kind):
    x_real, x_fake = torch.randn(4, 3), torch.randn(5, 3)
    weight = torch.randn(3, 7)
    penalties = {}
    for impl in ("ref", "triton"):
        w = weight.clone().requires_grad_(True)
        real, fake = torch.tanh(x_real @ w) * 3, torch.tanh(x_fake @ w) * 3  # logits depend on w
        d_loss = adversarial_loss(real, fake, kind, impl=impl)
        g_loss = adversarial_loss(None, fake, kind, impl=impl)
        # the gradient reaching d_loss depends on w too: the backward must keep it in the graph
        (g,) = torch.autograd.grad(d_loss * w.square().mean() + 0.5 * g_loss, w, create_graph=True)
        (penalties[impl],) = torch.autograd.grad(g.square().sum(), w)
    assert penalties["ref"].abs().max() > 0
    torch.testing.assert_close(penalties["triton"], penalties["ref"])


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="Did you mean 'least_squares'"):
        adversarial_loss(torch.randn(3), torch.randn(3), "least_square")
    with pytest.raises(ConfigError, match="triton"):
        adversarial_loss(None, torch.randn(3), "hinge", impl="trition")
