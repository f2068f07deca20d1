"""BatchStream resumes exactly, with any number of DataLoader workers, even for datasets that
draw per-item randomness (random crops): an item's randomness comes from (seed, epoch, index)."""

import random

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from multigan.train.data import BatchStream

N, BATCH, LENGTH, CROP = 10, 2, 32, 8  # 5 batches an epoch
START, STOP = 3, 9  # resume at 3, compare up to a few batches past the epoch boundary at 5


class TorchCrops(Dataset):
    """Item ``i`` is a random crop (``torch.randint``) of a fixed signal, plus its index."""

    def __init__(self):
        self.data = torch.arange(N * LENGTH, dtype=torch.float32).reshape(N, LENGTH)

    def __len__(self):
        return N

    def __getitem__(self, i):
        start = int(torch.randint(LENGTH - CROP + 1, ()))
        return self.data[i, start:start + CROP], i


class MixedRandom(Dataset):
    """Draws from torch, NumPy's global RNG and Python's ``random`` per item."""

    def __len__(self):
        return N

    def __getitem__(self, i):
        return torch.tensor([float(i), torch.rand(()).item(), np.random.rand(), random.random()],
                            dtype=torch.float64)


class Plain(Dataset):
    """No randomness: the item is its index."""

    def __len__(self):
        return N

    def __getitem__(self, i):
        return i


def _draw(dataset, num_workers, start, stop, seed=7, **kw):
    stream = BatchStream(dataset, BATCH, seed=seed, num_workers=num_workers, **kw)
    stream.position = start
    return [next(stream) for _ in range(stop - start)]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, (list, tuple)):
            for u, v in zip(x, y):
                assert torch.equal(u, v)
        else:
            assert torch.equal(x, y)


@pytest.mark.parametrize("make", [TorchCrops, MixedRandom])
def test_resumed_stream_matches_uninterrupted_with_any_workers(make):
    dataset = make()
    reference = _draw(dataset, 0, 0, STOP)[START:]
    for num_workers in (0, 1, 2):
        torch.manual_seed(123 + num_workers)  # a different global state: it must not matter
        np.random.seed(5 + num_workers)
        random.seed(9 + num_workers)
        _assert_same(_draw(dataset, num_workers, START, STOP), reference)


@pytest.mark.parametrize("make", [TorchCrops, MixedRandom])
def test_uninterrupted_streams_agree_across_worker_counts(make):
    dataset = make()
    _assert_same(_draw(dataset, 2, 0, STOP), _draw(dataset, 0, 0, STOP))
    _assert_same(_draw(dataset, 1, 0, STOP), _draw(dataset, 0, 0, STOP))


def test_item_randomness_depends_on_seed_and_epoch():
    dataset = MixedRandom()
    epoch0 = torch.cat(_draw(dataset, 0, 0, 5))
    epoch1 = torch.cat(_draw(dataset, 0, 5, 10))
    other = torch.cat(_draw(dataset, 0, 0, 5, seed=8))
    by_index = lambda b: b[b[:, 0].argsort()]  # noqa: E731
    assert not torch.equal(by_index(epoch0)[:, 1:], by_index(epoch1)[:, 1:])
    assert not torch.equal(by_index(epoch0)[:, 1:], by_index(other)[:, 1:])


def test_drawing_batches_leaves_the_training_process_rng_alone():
    torch.manual_seed(42)
    np.random.seed(42)
    random.seed(42)
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    for make in (TorchCrops, MixedRandom):
        _draw(make(), 0, 0, 7)
        _draw(make(), 0, 3, 7)
    assert torch.equal(torch.get_rng_state(), states[0])
    np_state = np.random.get_state()
    assert np_state[0] == states[1][0] and np.array_equal(np_state[1], states[1][1])
    assert np_state[2:] == states[1][2:]
    assert random.getstate() == states[2]


@pytest.mark.parametrize("world_size", [1, 2])
def test_items_and_order_are_the_epoch_permutation(world_size):
    """Datasets without randomness: the same items in the same order as the permutation."""
    for rank in range(world_size):
        got = [b.tolist() for b in _draw(Plain(), 0, 0, 8, rank=rank, world_size=world_size)]
        want = []
        for epoch in range(2):
            g = torch.Generator().manual_seed(7 * 1_000_003 + epoch)
            order = torch.randperm(N, generator=g).tolist()
            want += [order[i * BATCH:(i + 1) * BATCH][rank::world_size] for i in range(N // BATCH)]
        assert got == want[:8]
