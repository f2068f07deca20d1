"""The text modality: the built-in ``oracle`` (SeqGAN's synthetic benchmark), plain-text
corpora tokenised by a sentencepiece model trained on the corpus itself, TXT writers, oracle
NLL and BLEU metrics; and its family, SeqGAN.

Batches are token ids (N, max_len); ``gan.decode(ids)`` turns them into strings.
"""

from ...errors import ConfigError
from ...modality import Modality
from ...registry import register_modality
from . import seqgan  # noqa: F401  (registers the family)
from .data import ORACLE_VOCAB, SEQ_LEN, load_text_path, oracle
from .metrics import evaluate_text
from .io import write_text_samples


def _oracle(config, split):
    if (config.vocab_size, config.max_len) != (ORACLE_VOCAB, SEQ_LEN):
        raise ConfigError(f"the oracle's sequences are {SEQ_LEN} tokens over {ORACLE_VOCAB:,}; this model has "
                          f"max_len={config.max_len}, vocab_size={config.vocab_size}: build it with "
                          f"vocab_size={ORACLE_VOCAB} max_len={SEQ_LEN}")
    return oracle(split)


def _corpus(path, config, split, skip_bad_files):
    return load_text_path(path, config.vocab_size, config.max_len, split, config.tokenizer)


def _write(samples, stem, gan):
    return write_text_samples(gan.decode(samples), stem)


TEXT = register_modality(Modality(
    name="text",
    default_data="oracle",
    datasets={"oracle": _oracle},
    load_path=_corpus,
    write_samples=_write,
    evaluate=evaluate_text,
    unit="sequences",
))
