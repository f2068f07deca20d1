"""The shared ops' plain-PyTorch references (their fused twins come with the Triton kernels)."""

import torch

from multigan.kernels import sample_categorical


def test_sample_categorical_follows_the_softmax_and_its_seed():
    logits = torch.tensor([[0.0, 1.0, 2.0, -float("inf")], [3.0, 0.0, 0.0, 0.0]]).repeat(20_000, 1)
    a = sample_categorical(logits, torch.Generator().manual_seed(0))
    assert torch.equal(a, sample_categorical(logits, torch.Generator().manual_seed(0)))
    assert a.shape == (40_000,) and a.dtype == torch.long
    first, second = a[0::2], a[1::2]
    assert not (first == 3).any()                                   # probability zero: never drawn
    for rows, row_logits in ((first, logits[0]), (second, logits[1])):
        frequencies = torch.bincount(rows, minlength=4).float() / len(rows)
        assert torch.allclose(frequencies, row_logits.softmax(0), atol=0.01)
