"""The trainer's view of a dataset: an endless, resumable, shardable stream of batches."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate, get_worker_info

from ..errors import ConfigError, DataError


class BatchStream:
    """Endless batches from ``dataset``; its whole state is :attr:`position` (batches drawn).

    Epoch ``e`` visits the permutation drawn from ``(seed, e)`` in global batches of
    ``batch_size`` (incomplete ones dropped); on ``world_size`` processes each rank loads every
    ``world_size``-th item of each global batch, ``batch_size / world_size`` items. So the global
    batches, and :attr:`position`, are the same on any number of processes: a run resumes on
    another number of processes exactly where it stopped. Setting ``position`` resumes the stream.
    Randomness the dataset draws per item (random crops) comes from :func:`item_seed`, so it too
    is the same after a resume and with any number of workers (see :class:`SeededItems`).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0):
        if batch_size % world_size:
            raise ConfigError(f"batch_size {batch_size} is the global batch and must divide among the "
                              f"{world_size} processes: use a multiple of {world_size}")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0:
            raise DataError(f"the dataset {describe(dataset)} is empty")
        self.batches_per_epoch = n // batch_size
        if self.batches_per_epoch == 0:
            raise DataError(f"the dataset {describe(dataset)} has {n} items, fewer than one batch "
                            f"of {batch_size}: lower the batch size")
        self.position = 0
        self._iterator: Any = None
        self._iterator_position = -1

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's share of each global batch of epoch ``epoch``."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.dataset), generator=g)  # type: ignore[arg-type]
        b = self.batch_size
        return [order[i * b:(i + 1) * b][self.rank::self.world_size].tolist()
                for i in range(self.batches_per_epoch)]

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> Any:
        epoch, offset = divmod(self.position, self.batches_per_epoch)
        if self._iterator is None or self._iterator_position != self.position:
            batches = _SeededBatches(self._epoch_batches(epoch)[offset:], self.seed, epoch)
            # A private generator: making a DataLoader iterator would otherwise draw its worker
            # seed from the global RNG, and a resumed run would draw it at another moment.
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._iterator = iter(DataLoader(SeededItems(self.dataset), batch_sampler=batches, generator=g,
                                             num_workers=self.num_workers, collate_fn=default_collate))
        batch = next(self._iterator)
        self.position += 1
        self._iterator_position = self.position
        if self.position % self.batches_per_epoch == 0:
            self._iterator = None  # the next batch starts a new epoch (a new permutation)
        return batch


_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """SplitMix64's finaliser: a cheap, well-spread bijection of 64-bit integers."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The 64-bit seed of item ``index``'s randomness in epoch ``epoch`` of a stream seeded ``seed``.

    A pure function of the three, so an item draws the same random crop whatever process or worker
    loads it and whenever it does: a resumed run, or one with another number of workers or ranks,
    sees the same items. Different epochs see different crops.
    """
    return _mix64(_mix64(_mix64(seed & _MASK64) ^ epoch) ^ index)


class _SeededBatches:
    """A batch sampler: each batch's indices paired with their :func:`item_seed`."""

    def __init__(self, batches: list[list[int]], seed: int, epoch: int):
        self.batches, self.seed, self.epoch = batches, seed, epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        base = _mix64(_mix64(self.seed & _MASK64) ^ self.epoch)  # item_seed, its first two rounds hoisted
        for batch in self.batches:
            yield [(i, _mix64(base ^ i)) for i in batch]


class SeededItems(Dataset):
    """``dataset`` indexed by ``(index, seed)``: loads ``dataset[index]`` with torch's CPU RNG,
    Python's ``random`` and NumPy's global RNG seeded from ``seed``.

    So per-item randomness depends on the item seed alone, not on which process or DataLoader
    worker loads it or what it loaded before. In the training process (``num_workers=0``) it
    restores the three states afterwards, leaving that process's RNG streams as they were
    (bitwise resume depends on it). Only the CPU generator is seeded: ``torch.manual_seed`` would
    also reseed CUDA's.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.__getitems__([key])[0]

    def __getitems__(self, keys: list[tuple[int, int]]) -> list[Any]:
        """A batch's items (the DataLoader asks for a whole batch at once): the training
        process's RNG states are saved and restored once per batch, not per item."""
        cpu = torch.default_generator
        # a worker's RNG serves only its items, each seeded afresh: nothing to restore there
        restore = get_worker_info() is None
        if restore:
            states = cpu.get_state(), random.getstate(), np.random.get_state()
        try:
            items = []
            for index, seed in keys:
                cpu.manual_seed(seed)
                random.seed(seed)
                np.random.seed(seed >> 32)
                items.append(self.dataset[index])
            return items
        finally:
            if restore:
                cpu.set_state(states[0])
                random.setstate(states[1])
                np.random.set_state(states[2])


def describe(dataset: Dataset) -> str:
    """A dataset's name for messages: its ``source`` attribute if it has one, else its class."""
    return repr(getattr(dataset, "source", type(dataset).__name__))


def first_items(dataset: Dataset, n: int) -> Any:
    """The first ``n`` items of ``dataset`` as one batch (a fixed batch for sample previews)."""
    n = min(n, len(dataset))  # type: ignore[arg-type]
    return default_collate([dataset[i] for i in range(n)])


def to_device(batch: Any, device: torch.device, memory_format: torch.memory_format | None = None) -> Any:
    """Move a batch (a tensor, or tuples, lists and dicts of them) to ``device``; 4-D tensors
    also to ``memory_format`` when one is given."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        return batch.contiguous(memory_format=memory_format) if memory_format and batch.dim() == 4 else batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device, memory_format) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device, memory_format) for k, v in batch.items()}
    return batch
