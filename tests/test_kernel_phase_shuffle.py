"""phase_shuffle: the fused kernel against the reference, forward, backward and double backward."""

import pytest
import torch

from multigan.errors import ConfigError
from multigan.kernels import phase_shuffle


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape,n", [((3, 2, 17), 2), ((4, 5, 64), 4), ((2, 1, 3), 2), ((5, 3, 1500), 2)])
def test_fused_matches_reference_forward_and_backward(shape, n, dtype):
    x = torch.randn(shape).to(dtype)
    shifts = torch.randint(-n, n + 1, (shape[0],))
    shifts[0] = n                       # both edges, every time
    shifts[-1] = -n
    grad = torch.randn(shape).to(dtype)
    results = {}
    for impl in ("ref", "triton"):
        xi = x.clone().requires_grad_(True)
        out = phase_shuffle(xi, n, shifts, impl=impl)
        out.backward(grad)
        results[impl] = (out.detach(), xi.grad)
    # a permutation with reflection: the forward is exact; the backward sums at most three terms
    assert torch.equal(results["ref"][0], results["triton"][0])
    tol = 0 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(results["ref"][1], results["triton"][1], atol=tol, rtol=tol)


def test_double_backward_through_the_fused_op_matches_the_reference():
    x = torch.randn(3, 2, 20)
    shifts = torch.tensor([2, -1, -2])
    weight = torch.randn(3, 2, 20)
    penalties = {}
    for impl in ("ref", "triton"):
        xi = x.clone().requires_grad_(True)
        out = (phase_shuffle(xi, 2, shifts, impl=impl) ** 2 * weight).sum()
        (g,) = torch.autograd.grad(out, xi, create_graph=True)
        (gg,) = torch.autograd.grad(g.square().sum(), xi)
        penalties[impl] = gg
    torch.testing.assert_close(penalties["ref"], penalties["triton"])


def test_unknown_impl_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match="triton"):
        phase_shuffle(torch.randn(1, 1, 8), 2, impl="trition")
