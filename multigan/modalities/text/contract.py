"""What the text modality needs from a family: :class:`TextGAN`."""

from __future__ import annotations

import abc
import inspect
import math
import numbers
from typing import Any

import torch
from torch import Tensor

from ...errors import ConfigError
from ...gan import GAN
from .tokenizer import Tokenizer

TOKENIZER_FILE = "tokenizer.model"


def check_temperature(temperature: Any) -> float:
    """``temperature`` as a float, or a one-line :class:`ConfigError` unless it is a finite
    number > 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ConfigError(f"temperature must be a finite number > 0 (1: the model as trained; below 1 "
                          f"sharper, above 1 flatter), got {temperature!r}")
    return float(temperature)


class TextGAN(GAN):
    """A text family: ``sample(n)`` gives token ids (n, :attr:`max_len`) int64 below
    :attr:`vocab_size`, and batches are such ids.

    On a text corpus the modality trains a sentencepiece tokenizer of :attr:`tokenizer_kind`
    with :attr:`vocab_size` pieces and hands it over through :meth:`attach_data`; the family
    keeps it as :attr:`tokenizer` (written as ``tokenizer.model`` beside the checkpoints and
    inside them), so that :meth:`decode` works on a loaded model. On the oracle there is none,
    and token ids are the data. The modality's metrics call :meth:`decode` and :meth:`nll`.

    **Temperature.** ``sample(n, seed=..., temperature=T)`` draws every token from
    ``softmax(logits / T)``, and ``nll(ids, temperature=T)`` scores ids under that same tempered
    model (T = 1: the model itself). A family supports it by taking a ``temperature`` keyword
    in its ``generate(n, *, cond, rng, temperature)`` and its ``nll(ids, temperature)``; a
    family whose methods take none still samples and scores at T = 1, and any other T is a
    :class:`ConfigError` naming the family.
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
    def nll(self, ids: Tensor, temperature: float = 1.0) -> float:
        """G's mean negative log-likelihood per counted token (up to and including EOS) of ids
        (N, L), each token scored by ``softmax(logits / temperature)`` (a family may leave out
        the ``temperature`` argument: then it scores at 1 only)."""

    # ------------------------------------------------------------------ temperature
    @property
    def supports_temperature(self) -> bool:
        """True when this family's ``generate`` and ``nll`` both take a ``temperature`` keyword."""
        return all("temperature" in inspect.signature(method).parameters for method in (self.generate, self.nll))

    def check_temperature(self, temperature: Any) -> float:
        """``temperature`` as a float, or a :class:`ConfigError` unless it is a finite number > 0
        (:func:`check_temperature`) that this family can sample at (any family samples at 1)."""
        temperature = check_temperature(temperature)
        if temperature != 1.0 and not self.supports_temperature:
            raise ConfigError(f"{self.name or type(self).__name__} cannot sample at temperature {temperature:g}: "
                              f"its generate() and nll() take no temperature argument (see TextGAN)")
        return temperature

    @torch.no_grad()
    def sample(self, n: int | None = None, *, seed: int | None = None, cond: Any = None,
               temperature: float = 1.0) -> Tensor:
        """``n`` token-id sequences (n, :attr:`max_len`), reproducible by ``seed``, each token drawn
        from ``softmax(logits / temperature)``: :meth:`GAN.sample` with a temperature. At 1 the
        family's ``generate`` is called without one, so the draws are exactly those of
        :meth:`GAN.sample`."""
        temperature = self.check_temperature(temperature)
        options = {} if temperature == 1.0 else {"temperature": temperature}
        return super().sample(n, seed=seed, cond=cond, **options)

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
