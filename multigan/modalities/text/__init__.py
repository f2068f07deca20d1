"""The text modality: the built-in ``oracle`` (SeqGAN's synthetic benchmark), plain-text
corpora tokenised by a sentencepiece model trained on the corpus itself, TXT writers, oracle
NLL and BLEU metrics; and its family, SeqGAN. A family implements :class:`TextGAN`.

Batches are token ids (N, max_len); ``gan.decode(ids)`` turns them into strings.
"""

import torch

from ...errors import ConfigError, DataError
from ...modality import Modality
from ...registry import register_modality
from .contract import TextGAN
from .data import ORACLE_VOCAB, SEQ_LEN, load_text_path, oracle
from .io import text_lines, write_text_samples
from .metrics import evaluate_text
from . import seqgan  # noqa: F401,E402  (registers the family)
from . import relgan  # noqa: F401,E402  (registers the family)


def _oracle(gan: TextGAN, split: str):
    if (gan.vocab_size, gan.max_len) != (ORACLE_VOCAB, SEQ_LEN):
        raise ConfigError(f"the oracle's sequences are {SEQ_LEN} tokens over {ORACLE_VOCAB:,}; this model has "
                          f"max_len={gan.max_len}, vocab_size={gan.vocab_size}: build it with "
                          f"vocab_size={ORACLE_VOCAB} max_len={SEQ_LEN}")
    return oracle(split)


def _corpus(path, gan: TextGAN, split, skip_bad_files):
    return load_text_path(path, gan.vocab_size, gan.max_len, split, gan.tokenizer_kind)


def _write(samples, stem, gan: TextGAN):
    return write_text_samples(gan.decode(samples), stem)


def _encode_example(ids, gan: TextGAN) -> bytes:
    return " ".join(gan.decode(ids[None])[0].splitlines()).encode("utf-8")


def _encode_batch(ids, gan: TextGAN) -> bytes:
    return text_lines(gan.decode(ids))


def check_ids(batch, gan: TextGAN) -> None:
    """Raise :class:`DataError` unless ``batch`` holds token ids (N, max_len) in the vocabulary."""
    family = gan.name or type(gan).__name__
    if not isinstance(batch, torch.Tensor) or batch.dim() != 2 or batch.shape[1] != gan.max_len:
        got = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise DataError(f"{family} expects token-id batches of shape (N, {gan.max_len}), got {got}; "
                        f"build it with max_len matching the data")
    if batch.dtype != torch.long:
        raise DataError(f"{family} expects int64 token ids, got dtype {batch.dtype}")
    if batch.numel() and not 0 <= int(batch.min()) <= int(batch.max()) < gan.vocab_size:
        raise DataError(f"token ids range over [{int(batch.min())}, {int(batch.max())}] but vocab_size is "
                        f"{gan.vocab_size}; build with vocab_size matching the data")


TEXT = register_modality(Modality(
    name="text",
    default_data="oracle",
    datasets={"oracle": _oracle},
    load_path=_corpus,
    write_samples=_write,
    media=("txt", "text/plain; charset=utf-8"),
    encode_example=_encode_example,
    encode_batch=_encode_batch,
    check_batch=check_ids,
    evaluate=evaluate_text,
    unit="sequences",
))

__all__ = ["TEXT", "TextGAN", "check_ids"]
