"""Text data: the built-in ``oracle`` (SeqGAN's synthetic benchmark) and plain-text corpora.

Every dataset yields long tensors of token ids: (SEQ_LEN,) for the oracle, (max_len,) for a
corpus (its tokens, EOS, then PAD).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ...cache import cache_dir
from ...errors import ConfigError, DataError
from ...files import save_atomic
from ...metrics import one_thread
from .lm import LSTMLanguageModel
from .tokenizer import EOS, PAD, Tokenizer, train_tokenizer

ORACLE_SIZES = {"train": 10_000, "test": 2_000}
SEQ_LEN = 20
ORACLE_START = 0      # the start token, as in SeqGAN's code (it is also an ordinary token)
ORACLE_VOCAB = 5_000
ORACLE_EMBED = 32
ORACLE_HIDDEN = 32
#: Part of the cache key of sampled oracle data: bump it when the sampling changes.
ORACLE_VERSION = 2
ORACLE_CHUNK = 1_000  # sequences drawn per generator; a dataset of any size is a prefix of a larger one
NLL_CHUNK = 250       # sequences scored per forward pass (bounds the (N, L, 5000) logits)
HELD_OUT_EVERY = 10
_SPLIT_IDS = {"train": 0, "test": 1}


def _check_split(split: str, what: str) -> None:
    if split not in _SPLIT_IDS:
        raise ConfigError(f"{what} split {split!r}: allowed 'train' or 'test'")


class Oracle(LSTMLanguageModel):
    """SeqGAN's oracle: an LSTM language model (5,000 tokens, embedding 32, hidden 32) whose
    every parameter is drawn from N(0, 1) (one bias per gate, as in the paper's oracle). It
    defines the "true" distribution of the synthetic benchmark and scores samples by their
    negative log-likelihood under it (NLL-oracle).

    The draws come from a CPU ``torch.Generator`` seeded with ``seed``, parameter by parameter
    in registration order, so the oracle is the same on every machine; the global RNG is left
    untouched. Frozen and in eval mode. Sequences start from :data:`ORACLE_START`.
    """

    def __init__(self, seed: int = 0):
        with torch.random.fork_rng(devices=[]):  # nn.Module's own init draws from the global RNG
            super().__init__(ORACLE_VOCAB, ORACLE_EMBED, ORACLE_HIDDEN)
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
            # SeqGAN's oracle has one bias per gate; PyTorch's LSTM adds a second one
            self.lstm.bias_hh_l0.zero_()
        self.requires_grad_(False).eval()

    @torch.no_grad()
    def nll(self, ids: Tensor, temperature: float = 1.0) -> float:
        """Mean negative log-likelihood per token of sequences ids (N, L) under the oracle (or,
        with ``temperature``, under the oracle's ``softmax(logits / temperature)``), computed
        on the oracle's device in chunks of :data:`NLL_CHUNK` sequences."""
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise DataError(f"oracle NLL takes long token ids (N, L), got {ids.dtype} {tuple(ids.shape)}")
        if ids.numel() == 0:
            raise DataError("oracle NLL of no tokens is undefined: pass at least one sequence")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise DataError(f"oracle NLL takes token ids in [0, {self.vocab_size}), got ids from "
                            f"{int(ids.min())} to {int(ids.max())}")
        device = self.head.weight.device
        total = sum(-self.log_probs(chunk.to(device), ORACLE_START, temperature=temperature).double().sum()
                    for chunk in ids.split(NLL_CHUNK))
        return float(total) / ids.numel()


@functools.lru_cache(maxsize=None)
def oracle_model(seed: int = 0) -> Oracle:
    """The :class:`Oracle` for ``seed``, built once per process. It is shared: move a copy
    (``copy.deepcopy``) to another device, not the oracle itself."""
    return Oracle(seed)


def _sample_oracle(seed: int, split: str, n_chunks: int) -> Tensor:
    """``n_chunks * ORACLE_CHUNK`` oracle sequences of ``split``; chunk ``k`` comes from its own
    generator, seeded from ``(seed, split, k)``, so the two splits are different streams.
    Cached in :func:`cache_dir` (they take seconds to draw on a CPU)."""
    path = cache_dir() / f"oracle-v{ORACLE_VERSION}-seed{seed}-{split}-{n_chunks * ORACLE_CHUNK}.pt"
    shape = (n_chunks * ORACLE_CHUNK, SEQ_LEN)
    if path.is_file():
        try:
            ids = torch.load(path, map_location="cpu", weights_only=True)["ids"].long()
            if tuple(ids.shape) == shape:
                return ids
        except Exception:  # a damaged cache file is drawn again
            pass
    model = oracle_model(seed)
    chunks = []
    with one_thread():  # several times faster than two threads when other work keeps the cores busy
        for k in range(n_chunks):
            stream = int(np.random.SeedSequence([seed, _SPLIT_IDS[split], k]).generate_state(1)[0])
            # impl="ref": the dataset is the same on every device and with or without Triton
            chunks.append(model.sample(ORACLE_CHUNK, SEQ_LEN, ORACLE_START, torch.Generator().manual_seed(stream),
                                       impl="ref"))
    ids = torch.cat(chunks)
    save_atomic({"ids": ids.to(torch.int16)}, path)  # ids < 5,000: half the file of int32
    return ids


class OracleData(Dataset):
    """Sequences (SEQ_LEN,) sampled from the oracle: see :func:`oracle`."""

    def __init__(self, ids: Tensor, oracle: Oracle, split: str):
        self.ids, self.oracle, self.split = ids, oracle, split
        self.source = f"oracle ({split})"

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Tensor:
        return self.ids[i]


def oracle(split: str = "train", size: int | None = None, seed: int = 0) -> OracleData:
    """The built-in ``oracle`` dataset: 10,000 train / 2,000 test (by default) sequences of 20
    tokens over 5,000, sampled from :func:`oracle_model` (``.oracle``) with temperature 1.

    The splits draw from different streams, so the test split is held out at any ``size``;
    the data depends only on ``(seed, split)`` and a smaller ``size`` gives a prefix of a
    larger one.
    """
    _check_split(split, "oracle")
    size = ORACLE_SIZES[split] if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"oracle size {size!r}: must be a positive integer")
    ids = _sample_oracle(seed, split, -(-size // ORACLE_CHUNK))[:size]
    return OracleData(ids, oracle_model(seed), split)


def _decode_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"text file {str(path)!r} is not UTF-8: byte offset {exc.start} "
                        f"(0x{data[exc.start]:02x}) cannot be decoded; convert the file to UTF-8") from exc
    return text.removeprefix("\ufeff")


def text_lines(path: str | Path) -> tuple[list[str], list[str]]:
    """The (train, test) lines of a UTF-8 text file, or of every ``*.txt`` file in a folder
    (sorted by name, one after the other). Each non-blank line is an example; the held-out
    test split is every 10th one (index % 10 == 9), the training split the rest.

    Raises :class:`DataError` naming the file when it is missing, not UTF-8 (with the byte
    offset of the first bad byte), or has no non-blank line.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"text folder {str(path)!r} has no .txt files")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"text data {str(path)!r} does not exist")
    lines = [line for file in files for line in _decode_utf8(file).splitlines() if line.strip()]
    if not lines:
        what = "text folder" if path.is_dir() else "text file"
        raise DataError(f"{what} {str(path)!r} has no text (only blank lines, or nothing)")
    train = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    test = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return train, test


def encode_lines(lines: list[str], tokenizer: Tokenizer, max_len: int) -> Tensor:
    """Token ids (len(lines), max_len): each line's tokens, then EOS, then PAD up to ``max_len``
    (a line too long is cut at ``max_len``, and then has no EOS)."""
    ids = torch.full((len(lines), max_len), PAD, dtype=torch.long)
    for i, tokens in enumerate(tokenizer.encode_batch(lines)):
        row = (tokens + [EOS])[:max_len]
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return ids


class TextCorpus(Dataset):
    """The lines of a UTF-8 text file (or a folder of ``*.txt`` files, see :func:`text_lines`)
    as token ids (max_len,): each line's tokens, then EOS, then PAD up to ``max_len``; a line
    too long is cut at ``max_len`` (and then has no EOS).

    Blank lines are skipped; ``split="test"`` is every 10th non-blank line (index % 10 == 9),
    ``"train"`` the rest. ``lines`` holds the split's raw text (the references for BLEU).
    """

    def __init__(self, path: str | Path, tokenizer: Tokenizer, max_len: int, split: str = "train"):
        _check_split(split, "text")
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ConfigError(f"max_len={max_len!r}: must be a positive integer")
        train, test = text_lines(path)
        self.lines = train if split == "train" else test
        if not self.lines:
            raise DataError(f"text data {str(path)!r} has {len(train)} non-blank lines: too few for a "
                            f"{split} split (every {HELD_OUT_EVERY}th line is held out); add lines")
        self.tokenizer, self.max_len, self.split = tokenizer, max_len, split
        self.source = f"{path} ({split})"
        self.ids = encode_lines(self.lines, tokenizer, max_len)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Tensor:
        return self.ids[i]


def load_text_path(path: str | Path, vocab_size: int, max_len: int, split: str,
                   model_type: str = "unigram") -> TextCorpus:
    """The ``split`` of the text at ``path`` (see :class:`TextCorpus`), tokenised by a
    ``model_type`` sentencepiece model of ``vocab_size`` pieces trained (and cached) on the
    training lines only, so the held-out lines stay unseen."""
    train, _ = text_lines(path)
    tokenizer = train_tokenizer(train, vocab_size, model_type, source=f"text data {str(path)!r}")
    return TextCorpus(path, tokenizer, max_len, split)
