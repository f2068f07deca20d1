"""bias_act: the fused kernel against the reference, forward, backward and double backward."""

import math

import pytest
import torch
import torch.nn.functional as F

from multigan.errors import ConfigError
from multigan.kernels.bias_act import ACTIVATIONS, bias_act

# (shape, dim): 1-D to 4-D, negative dims, sizes that are not multiples of the kernel's block
SHAPES = [((37,), 0), ((6, 37), -1), ((5, 3, 70), 1), ((2, 3, 5, 7), -1), ((4, 3, 9, 11), 0),
          ((2, 8, 33, 35), 1)]
OPTIONS = [{}, {"gain": 1.7, "clamp": 0.9}, {"gain": -0.6, "alpha": 0.05, "clamp": 0.4}]


def _assert_close(expected, actual, dtype):
    if dtype == torch.float32:
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    else:  # one bf16 rounding apart (Triton's interpreter rounds float32 to bf16 towards zero)
        scale = expected.float().abs().max().item()
        torch.testing.assert_close(actual.float(), expected.float(), rtol=2e-2, atol=2e-2 * scale)


def _run(impl, x, b, grad, **options):
    xi = x.clone().requires_grad_(True)
    bi = None if b is None else b.clone().requires_grad_(True)
    out = bias_act(xi, bi, impl=impl, **options)
    out.backward(grad)
    return out.detach(), xi.grad, None if b is None else bi.grad


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "gain-clamp", "negative-gain"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape,dim", SHAPES)
def test_fused_matches_reference_forward_and_backward(shape, dim, act, with_bias, dtype, options):
    x = (torch.randn(shape) * 2).to(dtype)
    b = torch.randn(shape[dim]).to(dtype) if with_bias else None
    grad = torch.randn(shape).to(dtype)
    ref = _run("ref", x, b, grad, act=act, dim=dim, **options)
    fused = _run("triton", x, b, grad, act=act, dim=dim, **options)
    for expected, actual in zip(ref, fused):
        if expected is None:
            assert actual is None
        else:
            assert actual.dtype == dtype and actual.shape == expected.shape
            _assert_close(expected, actual, dtype)


@pytest.mark.parametrize("impl", ["ref", "triton"])
def test_both_compute_what_the_docstring_says(impl):
    x = torch.randn(3, 4, 5, 6) * 2
    b = torch.randn(4)
    pre = x + b.view(1, 4, 1, 1)
    cases = [
        ({}, pre),
        ({"act": "relu"}, F.relu(pre)),
        ({"act": "lrelu", "gain": math.sqrt(2)}, F.leaky_relu(pre, 0.2) * math.sqrt(2)),
        ({"act": "lrelu", "alpha": 0.1, "clamp": 0.5}, F.leaky_relu(pre, 0.1).clamp(-0.5, 0.5)),
        ({"act": "tanh", "gain": -2.0}, torch.tanh(pre) * -2),
        ({"act": "sigmoid", "gain": 3.0, "clamp": 2.0}, (torch.sigmoid(pre) * 3).clamp(-2, 2)),
    ]
    for options, expected in cases:
        torch.testing.assert_close(bias_act(x, b, impl=impl, **options), expected)
    # the bias runs along the chosen dimension, here the last one
    torch.testing.assert_close(bias_act(x, torch.randn(6).fill_(1.5), dim=-1, impl=impl), x + 1.5)
    torch.testing.assert_close(bias_act(x, act="tanh", impl=impl), torch.tanh(x))


def test_tanh_and_sigmoid_keep_their_relative_precision_near_zero_and_in_the_tails():
    x = torch.tensor([1e-7, -3e-5, 1e-3, -0.3, 2.0, -9.0, 30.0, -60.0])
    for act, expected in (("tanh", torch.tanh(x)), ("sigmoid", torch.sigmoid(x))):
        torch.testing.assert_close(bias_act(x, act=act, impl="triton"), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_other_float_dtypes(dtype):
    x = torch.randn(3, 5, 17).to(dtype)
    b = torch.randn(5).to(dtype)
    grad = torch.randn(3, 5, 17).to(dtype)
    options = {"act": "sigmoid", "gain": 2.0, "clamp": 1.5}
    ref = _run("ref", x, b, grad, **options)
    fused = _run("triton", x, b, grad, **options)
    tol = 1e-12 if dtype == torch.float64 else 2e-3
    for expected, actual in zip(ref, fused):
        assert actual.dtype == dtype
        torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


def test_bf16_input_with_a_float32_bias():
    x = torch.randn(4, 6, 19).to(torch.bfloat16)
    b = torch.randn(6)
    grad = torch.randn(4, 6, 19).to(torch.bfloat16)
    ref = _run("ref", x, b, grad, act="lrelu", gain=1.4)
    fused = _run("triton", x, b, grad, act="lrelu", gain=1.4)
    assert fused[0].dtype == fused[1].dtype == torch.bfloat16 and fused[2].dtype == torch.float32
    for expected, actual in zip(ref, fused):
        _assert_close(expected, actual, torch.bfloat16)


def test_noncontiguous_input_and_grads_for_only_one_of_x_and_b():
    x = torch.randn(7, 3, 9).transpose(0, 2)      # (9, 3, 7), not contiguous
    b = torch.randn(3)
    expected = bias_act(x, b, "lrelu", impl="ref")
    torch.testing.assert_close(bias_act(x, b, "lrelu", impl="triton"), expected)

    xi = x.clone().requires_grad_(True)
    bias_act(xi, b, "lrelu", impl="triton").sum().backward()
    torch.testing.assert_close(xi.grad, torch.where(x + b.view(1, 3, 1) > 0, 1.0, 0.2))

    bi = b.clone().requires_grad_(True)
    bias_act(x, bi, "lrelu", gain=2.0, impl="triton").sum().backward()
    torch.testing.assert_close(bi.grad, torch.where(x + b.view(1, 3, 1) > 0, 2.0, 0.4).sum((0, 2)))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_double_backward_through_the_fused_op_matches_the_reference(act):
    x = torch.randn(3, 4, 21) * 2
    b = torch.randn(4)
    weight = torch.randn(3, 4, 21)
    penalties = {}
    for impl in ("ref", "triton"):
        xi = x.clone().requires_grad_(True)
        bi = b.clone().requires_grad_(True)
        out = (bias_act(xi, bi, act, gain=1.3, clamp=1.0, impl=impl) ** 2 * weight).sum()
        gx, gb = torch.autograd.grad(out, (xi, bi), create_graph=True)
        penalties[impl] = torch.autograd.grad(gx.square().sum() + gb.square().sum(), (xi, bi))
    for expected, actual in zip(penalties["ref"], penalties["triton"]):
        assert expected.abs().max() > 0
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)  # the same formula, reordered


def test_errors_name_the_problem():
    x = torch.randn(2, 3, 4)
    with pytest.raises(ConfigError, match="Did you mean 'lrelu'"):
        bias_act(x, act="lrleu")
    with pytest.raises(ValueError, match=r"shape \(4,\).*\(2, 3, 4\).*\(3,\)"):
        bias_act(x, torch.randn(4))
    with pytest.raises(ValueError, match="dim 3"):
        bias_act(x, torch.randn(3), dim=3)
    with pytest.raises(ValueError, match="negative"):
        bias_act(x, clamp=-1.0)
    with pytest.raises(ConfigError, match="triton"):
        bias_act(x, impl="trition")
