"""Sentencepiece tokenizers trained on the corpus itself, held in memory so that a checkpoint can
carry its tokenizer.

Every tokenizer has the same special ids: ``PAD = 0``, ``BOS = 1``, ``EOS = 2``, ``UNK = 3``.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm
from torch import Tensor

from ...cache import cache_dir
from ...errors import ConfigError, DataError
from ...files import write_bytes_atomic

PAD, BOS, EOS, UNK = 0, 1, 2, 3
MODEL_TYPES = ("unigram", "bpe")
#: Part of every cache key: bump it when training options change what a tokenizer is.
TOKENIZER_VERSION = 1
TRAINING_SEED = 0


class Tokenizer:
    """A sentencepiece model, kept as its serialized bytes (``to_bytes``) beside the processor."""

    def __init__(self, model_proto: bytes, source: str = "tokenizer"):
        self._proto = bytes(model_proto)
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=self._proto)
        except Exception as exc:
            raise DataError(f"{source} is not a sentencepiece model ({exc})") from exc
        ids = (self.sp.pad_id(), self.sp.bos_id(), self.sp.eos_id(), self.sp.unk_id())
        if ids != (PAD, BOS, EOS, UNK):
            raise DataError(f"{source} has special ids (pad, bos, eos, unk) = {ids}, expected "
                            f"{(PAD, BOS, EOS, UNK)}; train it with train_tokenizer")

    def __reduce__(self):  # pickles (DataLoader workers, torch.save) as its bytes
        return Tokenizer.from_bytes, (self._proto,)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def pad_id(self) -> int:
        return PAD

    @property
    def bos_id(self) -> int:
        return BOS

    @property
    def eos_id(self) -> int:
        return EOS

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without BOS or EOS."""
        return self.sp.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of each text (in one call into sentencepiece)."""
        return self.sp.encode(list(texts))

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The text of token ids (a list or a 1-D tensor) up to the first EOS; PAD and BOS are
        left out."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        kept = []
        for i in ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                kept.append(int(i))
        return self.sp.decode(kept)

    def decode_batch(self, ids: Sequence[Sequence[int]] | Tensor) -> list[str]:
        """:meth:`decode` of each row of ids (a list of lists or a 2-D tensor)."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return [self.decode(row) for row in ids]

    def to_bytes(self) -> bytes:
        """The serialized sentencepiece model (what a ``.model`` file holds)."""
        return self._proto

    @classmethod
    def from_bytes(cls, model_proto: bytes) -> "Tokenizer":
        """The tokenizer whose :meth:`to_bytes` is ``model_proto``."""
        return cls(model_proto)

    def save(self, path: str | Path) -> Path:
        """Write the ``.model`` file at ``path`` (atomically: a crash leaves no half file)."""
        return write_bytes_atomic(path, self._proto)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        """The tokenizer in a ``.model`` file written by :meth:`save` (or by sentencepiece,
        trained with the special ids above)."""
        if not Path(path).is_file():
            raise DataError(f"tokenizer file {str(path)!r} does not exist")
        return cls(Path(path).read_bytes(), source=f"tokenizer file {str(path)!r}")


def _cache_key(lines: Iterable[str], vocab_size: int, model_type: str) -> str:
    digest = hashlib.sha256(f"{TOKENIZER_VERSION}\0{model_type}\0{vocab_size}\0".encode())
    for line in lines:
        data = line.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))  # the lengths make the key unambiguous
        digest.update(data)
    return digest.hexdigest()


def _train(lines: list[str], vocab_size: int, model_type: str, source: str) -> Tokenizer:
    model = io.BytesIO()
    spm.set_random_generator_seed(TRAINING_SEED)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
            model_type=model_type, pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK,
            character_coverage=1.0, hard_vocab_limit=True, num_threads=1, minloglevel=2)
    except RuntimeError as exc:
        message = str(exc)
        if "too high" in message:
            largest = re.search(r"value <= (\d+)", message)
            fix = (f"pass --set vocab_size={largest.group(1)} (the largest this corpus allows) or less"
                   if largest else "pass a smaller --set vocab_size=N")
            raise DataError(f"{source} is too small for a {model_type} vocabulary of vocab_size="
                            f"{vocab_size}: {fix}, or use a larger corpus") from exc
        if "smaller than required_chars" in message:
            need = re.search(r"(\d+) vs (\d+)", message)
            fix = (f"pass --set vocab_size={need.group(2)} or more" if need
                   else "pass a larger --set vocab_size=N")
            raise ConfigError(f"vocab_size={vocab_size} is too small for {source}: every character "
                              f"it uses, and the 4 special tokens, need an id; {fix}") from exc
        raise DataError(f"sentencepiece could not train a tokenizer on {source}: {message}") from exc
    return Tokenizer(model.getvalue())


def train_tokenizer(lines: list[str], vocab_size: int, model_type: str = "unigram",
                    source: str = "<corpus>") -> Tokenizer:
    """A sentencepiece tokenizer (``"unigram"`` or ``"bpe"``) of exactly ``vocab_size`` pieces,
    the 4 special ids included, trained on ``lines``; ``source`` names them in errors.

    Training is deterministic (one thread, every character covered) and its result is cached
    in :func:`multigan.cache.cache_dir`, keyed by the lines, the size and the type; a damaged
    cache file is trained again. A corpus with too few distinct pieces for ``vocab_size``
    raises :class:`DataError` with the largest size that works.
    """
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"tokenizer model_type {model_type!r}: allowed {', '.join(map(repr, MODEL_TYPES))}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 5:
        raise ConfigError(f"vocab_size={vocab_size!r}: must be an integer of at least 5 "
                          "(the 4 special tokens and one piece)")
    if not lines:
        raise DataError(f"{source} has no lines of text to train a tokenizer on")
    path = cache_dir() / f"tokenizer-v{TOKENIZER_VERSION}-{model_type}-{vocab_size}-{_cache_key(lines, vocab_size, model_type)[:24]}.model"
    if path.is_file():
        try:
            tokenizer = Tokenizer(path.read_bytes())
            if tokenizer.vocab_size == vocab_size:
                return tokenizer
        except DataError:  # a damaged cache file is trained again
            pass
    tokenizer = _train(lines, vocab_size, model_type, source)
    tokenizer.save(path)
    return tokenizer
