"""What the text modality needs from a family: :class:`TextGAN`."""

from __future__ import annotations

import abc

from torch import Tensor

from ...errors import ConfigError
from ...gan import GAN
from .tokenizer import Tokenizer

TOKENIZER_FILE = "tokenizer.model"


class TextGAN(GAN):
    """A text family: ``sample(n)`` gives token ids (n, :attr:`max_len`) int64 below
    :attr:`vocab_size`, and batches are such ids.

    On a text corpus the modality trains a sentencepiece tokenizer of :attr:`tokenizer_kind`
    with :attr:`vocab_size` pieces and hands it over through :meth:`attach_data`; the family
    keeps it as :attr:`tokenizer` (written as ``tokenizer.model`` beside the checkpoints and
    inside them), so that :meth:`decode` works on a loaded model. On the oracle there is none,
    and token ids are the data. The modality's metrics call :meth:`decode` and :meth:`nll`.
    """

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        """Tokens in the vocabulary."""

    @property
    @abc.abstractmethod
    def max_len(self) -> int:
        """Tokens per sequence (EOS included; PAD after it)."""

    @property
    def tokenizer_kind(self) -> str:
        """The sentencepiece model type to train on a corpus: ``"unigram"`` or ``"bpe"``."""
        return "unigram"

    @property
    def tokenizer(self) -> Tokenizer | None:
        """The corpus's tokenizer, or None (the oracle: ids are the data)."""
        return self.__dict__.get("_tokenizer")

    @tokenizer.setter
    def tokenizer(self, tokenizer: Tokenizer | None) -> None:
        self.__dict__["_tokenizer"] = tokenizer

    @abc.abstractmethod
    def nll(self, ids: Tensor) -> float:
        """G's mean negative log-likelihood per counted token (up to and including EOS) of ids (N, L)."""

    def decode(self, ids: Tensor) -> list[str]:
        """Token ids (N, L) -> N strings: the tokenizer's text, or without one the ids
        separated by spaces."""
        if self.tokenizer is not None:
            return self.tokenizer.decode_batch(ids)
        return [" ".join(map(str, row)) for row in ids.tolist()]

    def attach_data(self, dataset) -> None:
        """Keep a text corpus's tokenizer (None for the oracle)."""
        tokenizer = getattr(dataset, "tokenizer", None)
        if tokenizer is not None and tokenizer.vocab_size != self.vocab_size:
            raise ConfigError(f"the corpus's tokenizer has {tokenizer.vocab_size} tokens but {self.name or 'this model'} "
                              f"was built with vocab_size={self.vocab_size}; build with vocab_size="
                              f"{tokenizer.vocab_size}")
        self.tokenizer = tokenizer

    def artifacts(self) -> dict[str, bytes]:
        """The tokenizer as ``tokenizer.model``, when there is one."""
        return {} if self.tokenizer is None else {TOKENIZER_FILE: self.tokenizer.to_bytes()}

    def load_artifacts(self, files: dict[str, bytes]) -> None:
        if TOKENIZER_FILE in files:
            self.tokenizer = Tokenizer.from_bytes(files[TOKENIZER_FILE])
