"""sample_categorical: the reference's draws pinned, the fused Gumbel-max kernel held to the softmax."""

import pytest
import torch

from multigan.kernels import sample_categorical

INF = float("inf")


def test_sample_categorical_follows_the_softmax_and_its_seed():
    logits = torch.tensor([[0.0, 1.0, 2.0, -INF], [3.0, 0.0, 0.0, 0.0]]).repeat(20_000, 1)
    a = sample_categorical(logits, generator=torch.Generator().manual_seed(0), impl="ref")
    assert torch.equal(a, sample_categorical(logits, generator=torch.Generator().manual_seed(0), impl="ref"))
    assert a.shape == (40_000,) and a.dtype == torch.long
    first, second = a[0::2], a[1::2]
    assert not (first == 3).any()                                   # probability zero: never drawn
    for rows, row_logits in ((first, logits[0]), (second, logits[1])):
        frequencies = torch.bincount(rows, minlength=4).float() / len(rows)
        assert torch.allclose(frequencies, row_logits.softmax(0), atol=0.01)


def _inverse_cdf_before_temperature(logits, generator):
    """The reference as it was before it took a temperature: the oracle dataset is cached from it."""
    cdf = (logits.float() - logits.float().amax(dim=1, keepdim=True)).exp_().cumsum_(dim=1)
    target = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, target, right=True).clamp_(max=logits.shape[1] - 1).squeeze(1)


def test_reference_draws_are_those_of_the_inverse_cdf_before_temperature():
    logits = torch.randn(3000, 97) * 3
    logits[:, 5] = -INF
    got = sample_categorical(logits, generator=torch.Generator().manual_seed(4), impl="ref")
    assert torch.equal(got, _inverse_cdf_before_temperature(logits, torch.Generator().manual_seed(4)))
    # a temperature is the division the language model used to do before calling it
    got = sample_categorical(logits, 0.7, torch.Generator().manual_seed(5), impl="ref")
    assert torch.equal(got, _inverse_cdf_before_temperature(logits / 0.7, torch.Generator().manual_seed(5)))


def _assert_draws_follow(draws, probs):
    """``draws`` of one category each, against the distribution ``probs``: never a zero-probability
    category, cumulative frequencies within a Kolmogorov-Smirnov band (about 0.1% false alarms),
    and each likely category's frequency within five standard deviations."""
    n = len(draws)
    assert not probs[draws].eq(0).any(), "drew a category of probability zero"
    frequencies = torch.bincount(draws, minlength=len(probs)).double() / n
    probs = probs.double()
    assert (frequencies - probs).cumsum(0).abs().max() < 1.95 / n ** 0.5
    likely = probs * n >= 50
    sd = (probs * (1 - probs) / n).sqrt()
    assert ((frequencies - probs).abs() <= 5 * sd)[likely].all()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("vocab,rows", [(4, 40_000), (37, 20_000), (5000, 2_000)])
def test_fused_draws_follow_the_tempered_softmax(vocab, rows, temperature):
    logits = torch.randn(vocab) * 2
    logits[torch.arange(vocab) % 3 == 1] = -INF    # among them, for 5000, a block's first column (1024)
    logits[[i for i in (2, 1500, 3000, vocab - 2) if i < vocab]] += 5  # likely tokens in several blocks
    draws = sample_categorical(logits.repeat(rows, 1), temperature, torch.Generator().manual_seed(1),
                               impl="triton")
    assert draws.shape == (rows,) and draws.dtype == torch.long
    _assert_draws_follow(draws, (logits / temperature).softmax(0))


def test_fused_draws_follow_each_rows_own_logits():
    logits = torch.tensor([[0.0, 1.0, 2.0, -INF], [3.0, 0.0, 0.0, 0.0], [-INF, -INF, 0.0, -INF]])
    draws = sample_categorical(logits.repeat(20_000, 1), generator=torch.Generator().manual_seed(2),
                               impl="triton")
    for r in range(3):
        _assert_draws_follow(draws[r::3], logits[r].softmax(0))
    assert draws[2::3].eq(2).all()                 # the only finite logit


def test_fused_draws_are_set_by_the_seed_alone():
    logits = torch.randn(300, 1100)
    draw = lambda x, seed, **kw: sample_categorical(x, 1.3, torch.Generator().manual_seed(seed), "triton", **kw)
    a = draw(logits, 0)
    assert torch.equal(a, draw(logits, 0))
    assert (a != draw(logits, 1)).float().mean() > 0.9
    # strided logits are read in place, to the same draws
    assert torch.equal(a, draw(logits.T.contiguous().T, 0))
    # no generator: the global RNG
    torch.manual_seed(7)
    b = sample_categorical(logits, 1.3, impl="triton")
    torch.manual_seed(7)
    assert torch.equal(b, sample_categorical(logits, 1.3, impl="triton"))


def test_fused_takes_bfloat16_logits_as_their_float32_values():
    logits = (torch.randn(2000, 37) * 2).bfloat16()
    got = sample_categorical(logits, generator=torch.Generator().manual_seed(3), impl="triton")
    assert torch.equal(got, sample_categorical(logits.float(), generator=torch.Generator().manual_seed(3),
                                               impl="triton"))
    assert got.dtype == torch.long and 0 <= got.min() and got.max() < 37


@pytest.mark.parametrize("impl", ["ref", "triton"])
@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_temperature_must_be_positive(temperature, impl):
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_categorical(torch.zeros(2, 3), temperature, impl=impl)


def test_logits_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"\(N, V\), got shape \(3,\)"):
        sample_categorical(torch.zeros(3))
