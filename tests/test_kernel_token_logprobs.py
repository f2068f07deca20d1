"""token_logprobs: the fused kernel against the reference, forward, backward and double backward."""

import importlib

import pytest
import torch

from multigan.kernels.token_logprobs import token_logprobs

# by its import path: the package's attribute of this name is the function
module = importlib.import_module("multigan.kernels.token_logprobs")


def _inputs(shape, vocab, features, dtype=torch.float32, bias=True):
    hidden = torch.randn(*shape, features).to(dtype)
    weight = (torch.randn(vocab, features) / features ** 0.5).to(dtype)
    return hidden, weight, torch.randn(vocab) if bias else None, torch.randint(vocab, shape)


def _run(impl, hidden, weight, bias, tokens, grad, requires=(True, True, True)):
    """token_logprobs' output and the gradients of ``(out * grad).sum()`` (None where not asked)."""
    leaves = [None if x is None else x.clone().requires_grad_(r) for x, r in zip((hidden, weight, bias), requires)]
    out = token_logprobs(*leaves, tokens, impl=impl)
    out.backward(grad)
    return [out.detach()] + [None if x is None else x.grad for x in leaves]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape,vocab,features", [((1,), 37, 16), ((300,), 5003, 32), ((7, 5), 1000, 40),
                                                  ((3, 90), 37, 70)])
def test_fused_matches_reference_forward_and_backward(shape, vocab, features, bias, dtype, monkeypatch):
    # backward chunks of 160 columns: the chunk loop runs, and ends on a partial chunk
    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 0)
    monkeypatch.setattr(module, "MIN_CHUNK", 160)
    inputs = _inputs(shape, vocab, features, dtype, bias)
    grad = torch.randn(shape)
    ref, fused = _run("ref", *inputs, grad), _run("triton", *inputs, grad)
    assert fused[0].dtype == torch.float32 and fused[0].shape == shape
    # the same float32 sums in another order; 16-bit gradients may round a last bit apart
    torch.testing.assert_close(fused[0], ref[0], rtol=1e-5, atol=1e-5)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-2, atol=1e-5)
    for name, got, want in zip(("hidden", "weight", "bias"), fused[1:], ref[1:]):
        if want is not None:
            assert got.dtype == want.dtype, name
            torch.testing.assert_close(got, want, **tol, msg=lambda m: f"{name}: {m}")


def test_fused_forward_is_the_log_softmax_picked_at_the_tokens():
    hidden, weight, bias, tokens = _inputs((4, 6), 300, 24)
    expected = (hidden @ weight.T + bias).log_softmax(-1).gather(-1, tokens[..., None])[..., 0]
    torch.testing.assert_close(token_logprobs(hidden, weight, bias, tokens, impl="triton"), expected)


@pytest.mark.parametrize("requires", [(True, False, False), (False, True, True), (False, False, True)])
def test_only_the_gradients_asked_for_are_made(requires):
    inputs = _inputs((40,), 600, 32)
    grad = torch.randn(40)
    ref, fused = _run("ref", *inputs, grad, requires), _run("triton", *inputs, grad, requires)
    for got, want, needed in zip(fused[1:], ref[1:], requires):
        assert (got is None) == (not needed)
        if needed:
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_strided_and_mixed_dtype_inputs():
    hidden = torch.randn(9, 4, 48).transpose(0, 1)          # (4, 9, 48), not contiguous
    weight = torch.randn(48, 333).T / 7                      # (333, 48), column-major
    bias = torch.randn(666)[::2]
    tokens = torch.randint(333, (4, 9, 2))[..., 0]          # flattens to a view of stride 2
    grad = torch.randn(4, 9)
    for h in (hidden, hidden.bfloat16()):                    # bfloat16 hidden with float32 weight
        ref, fused = _run("ref", h, weight, bias, tokens, grad), _run("triton", h, weight, bias, tokens, grad)
        for got, want in zip(fused, ref):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_no_rows():
    hidden, weight, bias, tokens = _inputs((0, 3), 50, 16)
    out = _run("triton", hidden, weight, bias, tokens, torch.zeros(0, 3))
    assert out[0].shape == (0, 3) and out[2].abs().sum() == 0


def test_double_backward_through_the_fused_op_matches_the_reference():
    hidden, weight, bias, tokens = _inputs((5, 7), 211, 24)
    grad = torch.randn(5, 7)
    results = {}
    for impl in ("ref", "triton"):
        leaves = [x.clone().requires_grad_(True) for x in (hidden, weight, bias)]
        out = (token_logprobs(*leaves, tokens, impl=impl) * grad).sum()
        first = torch.autograd.grad(out, leaves, create_graph=True)
        penalty = sum(g.square().sum() for g in first)
        results[impl] = [g.detach() for g in first] + list(torch.autograd.grad(penalty, leaves))
    for got, want in zip(results["triton"], results["ref"]):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", ["ref", "triton"])
@pytest.mark.parametrize("args,match", [
    (((4, 16), (10, 8), (10,), (4,)), r"hidden \(..., H\) and weight \(V, H\); got hidden \(4, 16\), weight \(10, 8\)"),
    (((4, 16), (10,), (10,), (4,)), r"weight \(V, H\); got hidden \(4, 16\), weight \(10,\)"),
    (((4, 16), (10, 16), (11,), (4,)), r"bias \(V,\) for weight \(V, H\); got .* bias \(11,\)"),
    (((4, 16), (10, 16), None, (4, 1)), r"tokens of hidden's leading shape; got .* tokens \(4, 1\)"),
    (((2, 3, 16), (10, 16), None, (3, 2)), r"tokens of hidden's leading shape; got hidden \(2, 3, 16\)"),
])
def test_shapes_that_disagree_are_named(args, match, impl):
    hidden, weight, bias, tokens = (None if s is None else torch.zeros(s) for s in args)
    with pytest.raises(ValueError, match=match):
        token_logprobs(hidden, weight, bias, tokens.long(), impl=impl)


@pytest.mark.parametrize("impl", ["ref", "triton"])
def test_bad_tokens_and_dtypes_are_refused(impl):
    hidden, weight, bias, tokens = _inputs((4,), 10, 16)
    for bad in (torch.tensor([0, 1, 10, 2]), torch.tensor([0, -1, 3, 2])):
        with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\) .* got ids from"):
            token_logprobs(hidden, weight, bias, bad, impl=impl)
    with pytest.raises(ValueError, match="integer token ids, got torch.float32"):
        token_logprobs(hidden, weight, bias, tokens.float(), impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16 hidden, got torch.float64"):
        token_logprobs(hidden.double(), weight, bias, tokens, impl=impl)
    # int32 ids are ids
    torch.testing.assert_close(token_logprobs(hidden, weight, bias, tokens.int(), impl=impl),
                               token_logprobs(hidden, weight, bias, tokens, impl="ref"))
