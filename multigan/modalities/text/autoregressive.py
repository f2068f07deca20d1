"""What the text families whose generator is a :class:`TextGenerator` share (SeqGAN's LSTM or
GPT-2, RelGAN's relational memory): the :class:`TextGAN` contract answered from the config and
the generator, and G's likelihood, which the metrics read (``nll``) and MLE pre-training
minimises (``mle_loss``, ``mle_phase``); and the check of a convolutional D's windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...config import GANConfig, option
from ...errors import ConfigError
from ...gan import Losses, Phase, Step
from .contract import TextGAN
from .generators import TextGenerator
from .tokenizer import Tokenizer

#: Samples the trainer writes at each preview.
N_PREVIEW = 16


@dataclass
class AutoregressiveConfig(GANConfig):
    """The data's shape, which every autoregressive text family has: the oracle's by default."""

    vocab_size: int = option(5000, "tokens in the vocabulary (a text corpus's tokenizer is trained to this size)",
                             low=2)
    max_len: int = option(20, "tokens per sequence (text: truncated or padded, EOS included)", low=1)
    tokenizer: str = option("unigram", "a text corpus's sentencepiece model type", choices=("unigram", "bpe"))


def check_windows(config) -> None:
    """For a family whose D convolves token windows (``config.d_filter_sizes``, with
    ``config.d_num_filters`` filters each): a :class:`ConfigError` unless there is one filter
    count per window size and every window fits in ``config.max_len`` tokens."""
    sizes, counts = config.d_filter_sizes, config.d_num_filters
    if len(sizes) != len(counts):
        raise ConfigError(f"d_filter_sizes has {len(sizes)} entries but d_num_filters {len(counts)}: give one "
                          f"filter count per window size")
    too_wide = [k for k in sizes if k > config.max_len]
    if too_wide:
        fits = tuple(k for k in sizes if k <= config.max_len)
        raise ConfigError(f"d_filter_sizes {too_wide} are wider than max_len {config.max_len}; drop them "
                          f"(e.g. d_filter_sizes={','.join(map(str, fits))} with the matching d_num_filters) or "
                          f"raise max_len")


class AutoregressiveGAN(TextGAN):
    """A :class:`TextGAN` whose generator is a :class:`TextGenerator`: sampling, the tokenizer,
    the NLL and the MLE loss come from G; a family adds its discriminator and its objective."""

    config: AutoregressiveConfig
    generator: TextGenerator

    # ------------------------------------------------------------------ the text contract
    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def max_len(self) -> int:
        return self.config.max_len

    @property
    def tokenizer_kind(self) -> str:
        return self.config.tokenizer

    @property
    def tokenizer(self) -> Tokenizer | None:
        """Kept by G (and its EMA copy) as extra state, so it travels with G's weights, into
        exports too: it gives BOS, EOS and PAD as well as decoding."""
        return self.generator.tokenizer

    @tokenizer.setter
    def tokenizer(self, tokenizer: Tokenizer | None) -> None:
        for g in (self.generator, self.generator_ema):
            if g is not None:
                g.tokenizer = tokenizer

    def generate(self, n: int | None, *, cond=None, rng: torch.Generator, temperature: float = 1.0) -> Tensor:
        return self.sampling_generator.sample(self.check_unconditional(n, cond), self.config.max_len, rng, temperature)

    def preview(self, batch, n: int) -> Tensor:
        return self.sample(min(n, N_PREVIEW), seed=0)

    # ------------------------------------------------------------------ likelihood
    @torch.no_grad()
    def nll(self, ids: Tensor, temperature: float = 1.0, chunk: int = 1000) -> float:
        """G's mean negative log-likelihood per counted token (up to and including EOS) of ids
        (N, L), under ``softmax(logits / temperature)``."""
        ids = ids.to(self.device)
        total, count = 0.0, 0.0
        for part in ids.split(chunk):
            mask = self.generator.token_mask(part)
            total += float(-(self.generator.log_probs(part, temperature) * mask).double().sum())
            count += float(mask.sum())
        return total / count

    def mle_loss(self, batch: Tensor, step: Step) -> Losses:
        """G's per-token negative log-likelihood of real sequences (after EOS: masked out)."""
        mask = self.generator.token_mask(batch)
        nll = -(self.generator.log_probs(batch) * mask).sum() / mask.sum()
        return {"loss": nll}

    def mle_phase(self, epochs: int, batches_per_epoch: int, lr: float | None = None) -> Phase:
        """``epochs`` of MLE pre-training of G, with an Adam of its own (learning rate ``lr``,
        None: ``lr_g``), so that adversarial training starts from fresh optimiser state (as
        SeqGAN's and RelGAN's reference code)."""
        return Phase("mle", "generator", epochs * batches_per_epoch, self.mle_loss, own_optimizer=True,
                     trains=f"G by maximum likelihood, {epochs} epochs", lr=lr)
