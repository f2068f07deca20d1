import math

import pytest
import torch

from multigan import losses

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def softplus(x):
    return math.log1p(math.exp(x))


def mean(values):
    return sum(values) / len(values)


@pytest.mark.parametrize("kind, d_expected, g_expected", [
    ("non_saturating",
     mean([softplus(-2.0), softplus(1.0)]) + mean([softplus(0.5), softplus(-3.0)]),
     mean([softplus(-0.5), softplus(3.0)])),
    ("minimax",
     mean([softplus(-2.0), softplus(1.0)]) + mean([softplus(0.5), softplus(-3.0)]),
     -mean([softplus(0.5), softplus(-3.0)])),
    ("hinge", mean([0.0, 2.0]) + mean([1.5, 0.0]), -mean([0.5, -3.0])),
    ("wasserstein", mean([0.5, -3.0]) - mean([2.0, -1.0]), -mean([0.5, -3.0])),
    ("least_squares", 0.5 * mean([1.0, 4.0]) + 0.5 * mean([0.25, 9.0]), 0.5 * mean([0.25, 16.0])),
])
def test_adversarial_losses_match_hand_computed_values(kind, d_expected, g_expected):
    assert losses.discriminator_loss(kind, REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert losses.generator_loss(kind, FAKE).item() == pytest.approx(g_expected, rel=1e-6)


def test_logistic_loss_is_stable_for_large_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(losses.discriminator_loss("non_saturating", big, -big))
    assert torch.isfinite(losses.generator_loss("non_saturating", -big))


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = <w, x>: its input gradient is w everywhere, so the penalty is (|w| - 1)^2
    w = torch.tensor([[3.0, 4.0], [0.0, 0.0]]).reshape(1, 2, 2)  # |w| = 5
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(8, 2, 2), torch.randn(8, 2, 2)
    gp = losses.gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(16.0, rel=1e-6)


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    critic = lambda x: x @ w  # noqa: E731
    gp = losses.gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| = 2 * 4 * [0.6, 0.8]
    torch.testing.assert_close(w.grad, torch.tensor([4.8, 6.4]))


def test_gradient_penalty_under_bf16_autocast():
    lin = torch.nn.Linear(6, 1)
    real, fake = torch.randn(16, 6), torch.randn(16, 6)
    g = torch.Generator().manual_seed(1)
    exact = losses.gradient_penalty(lambda x: lin(x).flatten(), real, fake, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = torch.Generator().manual_seed(1)
        mixed = losses.gradient_penalty(lambda x: lin(x).flatten(), real, fake, generator=g)
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(exact.item(), rel=2e-2)


def test_feature_matching_weights_layers_and_detaches_real():
    real = [torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([0.0])]
    fake = [torch.tensor([2.0, 0.0], requires_grad=True), torch.tensor([3.0], requires_grad=True)]
    fm = losses.feature_matching(real, fake, weights=[0.5, 2.0])
    assert fm.item() == pytest.approx(0.5 * 1.5 + 2.0 * 3.0)
    fm.backward()
    assert real[0].grad is None and fake[0].grad is not None


def test_feature_matching_needs_matching_layers():
    with pytest.raises(ValueError, match="as many"):
        losses.feature_matching([torch.zeros(1)], [])
