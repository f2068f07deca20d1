"""RelGAN (Nie, Narodytska & Patel, ICLR 2019): a text GAN trained through the Gumbel-softmax.

G, a relational-memory language model (:mod:`.relational_memory`), is first fitted by maximum
likelihood. Then each adversarial step updates G once and D ``n_critic`` times, in that order
(the reference code's loop). G's sequences reach D as relaxed one-hots, ``softmax(beta (o + g))``
with Gumbel noise ``g`` (:mod:`.gumbel`), so D's gradient flows into G with no policy gradient
and no rollouts; the inverse temperature ``beta`` rises from 1 to ``beta_max`` over
``beta_steps`` adversarial steps (:func:`inverse_temperature`). D, a CNN over several embedded
representations of its one-hot or relaxed input, gives one logit per representation; both
players minimise the relativistic standard loss (:func:`multigan.losses.relativistic_loss`)
over those logits, each fake paired with a real sequence of the same batch.

Defaults: the reference code's oracle experiment (weilinie/RelGAN, oracle/experiments/
oracle_relgan.py, run.py, oracle/oracle_gan/oracle_train.py); docs/relgan.md lists where each
setting comes from and every deliberate difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...config import make_config, option
from ...errors import ConfigError
from ...gan import Losses, Phase, Step
from ...layers import Conv1dAct
from ...losses import relativistic_loss
from ...registry import register_model
from .autoregressive import AutoregressiveConfig, AutoregressiveGAN, check_windows
from .gumbel import soft_sample
from .relational_memory import RelationalMemoryGenerator, reference_init_, truncated_normal_

#: name -> the inverse temperature at the fraction ``p = min(step, n) / n`` of a schedule of ``n``
#: steps (``log`` counts steps), for ``beta_max`` ``b``: the reference code's schedules (its
#: ``get_fixed_temperature``), each written to start at 1 and reach ``b`` at step ``n``; there
#: ``linear``, ``log``, ``quad`` and ``sqrt`` reach it at ``n - 1``, and ``sigmoid`` only nearly
#: (as here)
SCHEDULES = {
    "exp": lambda b, p, n: b ** p,
    "linear": lambda b, p, n: 1 + (b - 1) * p,
    "log": lambda b, p, n: 1 + (b - 1) * math.log1p(p * n) / math.log1p(n),
    "sigmoid": lambda b, p, n: 1 + (b - 1) / (1 + math.exp(20 * (0.5 - p))),
    "quad": lambda b, p, n: 1 + (b - 1) * p ** 2,
    "sqrt": lambda b, p, n: 1 + (b - 1) * math.sqrt(p),
    "constant": lambda b, p, n: b,
}


def inverse_temperature(schedule: str, beta_max: float, step: int, steps: int) -> float:
    """The Gumbel-softmax inverse temperature of adversarial step ``step`` (0-based) under
    ``schedule`` (a key of :data:`SCHEDULES`), which reaches ``beta_max`` at ``steps`` and stays
    there; ``exp``, the paper's: ``beta_max ** (step / steps)``."""
    return SCHEDULES[schedule](beta_max, min(step, steps) / steps, steps)


@dataclass
class RelGANConfig(AutoregressiveConfig):
    """The reference code's oracle experiment: G a relational memory (1 slot, 2 heads of 256),
    D a CNN over 64 embedded representations, RSGAN loss, beta_max 100 on the exponential
    schedule, 150 epochs of MLE, 3,000 adversarial steps of 1 G and 5 D updates."""

    g_embed_dim: int = option(32, "G: token embedding size", low=1)
    mem_slots: int = option(1, "G: relational memory slots", low=1)
    num_heads: int = option(2, "G: attention heads (the memory's width is num_heads x head_size)", low=1)
    head_size: int = option(256, "G: features per attention head", low=1)
    d_embed_dim: int = option(64, "D: embedding size in all, split evenly among d_representations", low=1)
    d_representations: int = option(64, "D: embedded representations, one logit each", low=1)
    d_filter_sizes: tuple[int, ...] = option((2, 3, 4, 5), "D: convolution window sizes (each <= max_len)", low=1)
    d_num_filters: tuple[int, ...] = option((300, 300, 300, 300), "D: filters per window size", low=1)
    d_hidden: int = option(100, "D: width of the linear layer before the output", low=1)
    d_dropout: float = option(0.25, "D: dropout after the highway layer (the paper's keep 0.75)",
                              low=0, high=1, high_open=True)
    beta_max: float = option(100.0, "Gumbel-softmax: the largest inverse temperature", low=1)
    beta_schedule: str = option("exp", "how beta rises from 1 to beta_max", choices=tuple(SCHEDULES))
    beta_steps: int = option(5000, "adversarial steps at which beta reaches beta_max (the reference code's fixed "
                                   "5,000, past its 3,000 steps)", low=1)
    pretrain_g_epochs: int = option(150, "epochs of MLE pre-training of G", low=0)
    n_critic: int = option(5, "D updates after each G update", low=1)
    lr_g: float = option(1e-4, "generator learning rate (Adam) in adversarial training", low=0, low_open=True)
    lr_pretrain: float = option(1e-2, "generator learning rate (Adam) in MLE pre-training (the reference's)",
                                low=0, low_open=True)
    lr_d: float = option(1e-4, "discriminator learning rate (Adam)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.9, 0.999), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.9, 0.999), "discriminator Adam betas", low=0, high=1, high_open=True)
    grad_clip_g: float = option(5.0, "generator gradient norm clip", low=0)
    grad_clip_d: float = option(5.0, "discriminator gradient norm clip", low=0)
    batch_size: int = option(64, "default batch size", low=1)
    max_steps: int = option(3000, "adversarial steps (one G update and n_critic D updates each)", low=1)

    def validate(self) -> None:
        check_windows(self)
        if self.d_embed_dim % self.d_representations:
            raise ConfigError(f"d_embed_dim {self.d_embed_dim} does not split evenly into d_representations "
                              f"{self.d_representations}: make it a multiple")


class RelGANDiscriminator(nn.Module):
    """Token ids (N, L), or one-hot or relaxed rows (N, L, V) -> logits (N, S), one per
    embedded representation.

    The input is embedded into ``embed_dim`` features, split into ``S = representations``
    slices; each slice is a representation of the sequence of its own, and the same
    convolutions (one per window size, ReLU, max over time), highway layer, dropout and two
    linear layers score every representation. (The reference's two linear layers have no
    activation between them, so together they are one linear map of rank at most ``hidden``.)
    """

    def __init__(self, vocab_size: int, embed_dim: int, representations: int, filter_sizes: tuple[int, ...],
                 num_filters: tuple[int, ...], hidden: int, dropout: float):
        super().__init__()
        self.representations = representations
        width = sum(num_filters)
        single = embed_dim // representations
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(Conv1dAct(single, n, k, act="relu") for k, n in zip(filter_sizes, num_filters))
        self.highway = reference_init_(nn.Linear(width, width, bias=False))
        self.highway_gate = reference_init_(nn.Linear(width, width, bias=False))
        self.dropout = nn.Dropout(dropout)
        self.hidden = reference_init_(nn.Linear(width, hidden))
        self.out = reference_init_(nn.Linear(hidden, 1))
        truncated_normal_(self.embedding.weight, 1 / math.sqrt(vocab_size))
        for conv, k in zip(self.convs, filter_sizes):   # the reference's He-style init
            truncated_normal_(conv.weight, math.sqrt(2 / (k * single)))
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        embedded = x @ self.embedding.weight if x.is_floating_point() else self.embedding(x)
        n, length, _ = embedded.shape
        # representation s is features [s * single, (s + 1) * single): (N * S, single, L)
        slices = embedded.view(n, length, self.representations, -1).permute(0, 2, 3, 1).flatten(0, 1)
        pooled = torch.cat([conv(slices).amax(dim=2) for conv in self.convs], dim=1)
        gate = torch.sigmoid(self.highway_gate(pooled))
        features = gate * torch.relu(self.highway(pooled)) + (1 - gate) * pooled
        return self.out(self.hidden(self.dropout(features))).view(n, self.representations)


class RelGAN(AutoregressiveGAN):
    """RelGAN: MLE pre-training, then Gumbel-softmax adversarial training with the RSGAN loss."""

    config: RelGANConfig
    generator: RelationalMemoryGenerator
    generator_first = True  # the reference's adversarial step: one G update, then n_critic D updates

    def __init__(self, config: RelGANConfig):
        generator = RelationalMemoryGenerator(config.vocab_size, config.g_embed_dim, config.mem_slots,
                                              config.num_heads, config.head_size)
        # adversarial G updates begun, which set the inverse temperature: a buffer of G, so that
        # it travels in every checkpoint and a resumed run anneals on from where it stopped
        generator.register_buffer("adversarial_steps", torch.zeros((), dtype=torch.long))
        super().__init__(config, generator, RelGANDiscriminator(
            config.vocab_size, config.d_embed_dim, config.d_representations, config.d_filter_sizes,
            config.d_num_filters, config.d_hidden, config.d_dropout))

    @property
    def beta(self) -> float:
        """The inverse temperature of the current adversarial step (1 before the first)."""
        c = self.config
        step = max(int(self.generator.adversarial_steps) - 1, 0)
        return inverse_temperature(c.beta_schedule, c.beta_max, step, c.beta_steps)

    def relaxed_fakes(self, n: int) -> Tensor:
        """``n`` sequences of G as relaxed one-hots (n, max_len, V) at the current :attr:`beta`."""
        return soft_sample(self.generator, n, self.config.max_len, self.beta)[1]

    # ------------------------------------------------------------------ objectives
    def discriminator_loss(self, batch: Tensor, step: Step) -> Losses:
        """RSGAN: ``-log sigmoid(D(real) - D(fake))`` over the batch's pairs and D's representations;
        the fakes are G's relaxed one-hots at the step's inverse temperature, as the reference's."""
        with torch.no_grad():
            fake = self.relaxed_fakes(batch.shape[0])
        return {"loss": relativistic_loss(self.discriminator(batch), self.discriminator(fake))}

    def generator_loss(self, batch: Tensor, step: Step) -> Losses:
        """RSGAN: ``-log sigmoid(D(fake) - D(real))``, back-propagated into G through the relaxed
        one-hots. Begins an adversarial step: the inverse temperature moves on first."""
        self.generator.adversarial_steps += 1
        loss = relativistic_loss(self.discriminator(self.relaxed_fakes(batch.shape[0])), self.discriminator(batch))
        return {"loss": loss, "beta": torch.tensor(self.beta)}

    def phases(self, batches_per_epoch: int) -> list[Phase]:
        return [self.mle_phase(self.config.pretrain_g_epochs, batches_per_epoch, lr=self.config.lr_pretrain)]


@register_model("relgan", modality="text", config=RelGANConfig)
def relgan(**overrides) -> RelGAN:
    """RelGAN with the reference code's oracle settings (relational memory G, Gumbel-softmax with
    beta_max 100, multi-representation CNN D, RSGAN)."""
    return RelGAN(make_config(RelGANConfig, overrides))
