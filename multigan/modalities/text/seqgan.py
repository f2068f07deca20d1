"""SeqGAN (Yu, Zhang, Wang & Yu, AAAI 2017): a sequence generator trained by policy gradient.

Tokens are discrete, so D's gradient cannot flow into G. Instead G, an LSTM language model, is
first fitted by maximum likelihood; D, a CNN over token embeddings, learns to tell real
sequences from G's; then G is trained by REINFORCE. The reward of token ``t`` is D's
probability that the sequence is real, estimated for a partial sequence by completing it
``rollouts`` times with the rollout policy and averaging D over the completions. The rollout
policy is G itself, as in the reference code (LantaoYu/SeqGAN), whose ROLLOUT network reads G's
live variables; ``ema_decay`` > 0 makes it a delayed copy instead.

Schedule (all config fields), as the reference code runs it: ``pretrain_g_epochs`` of MLE,
``pretrain_d_rounds`` x ``d_epochs`` epochs of D, then per adversarial step one
policy-gradient step of G *followed by* ``d_rounds`` x ``d_epochs`` epochs of D. A D epoch is
the reference's: its batches hold positives and negatives together (here half and half, each
negative drawn fresh from G), so it takes twice as many batches as there are batches of real
data (312 on the oracle, 4,680 D updates per adversarial step at the paper's settings).
docs/seqgan.md lists every deliberate difference from the reference code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...config import make_config, option
from ...errors import ConfigError
from ...gan import Losses, Phase, Step
from ...kernels import adversarial_loss
from ...layers import Conv1dAct, LinearAct
from ...registry import register_model
from .autoregressive import AutoregressiveConfig, AutoregressiveGAN, check_windows
from .generators import TextGenerator, build_generator

#: Completions scored by D per call: bounds the memory of its feature maps.
REWARD_CHUNK = 4096


@dataclass
class SeqGANConfig(AutoregressiveConfig):
    """The paper's code's settings: the oracle's vocabulary and length, G an LSTM (32, 32),
    D a CNN with 12 window sizes, 16 rollouts, the pre-training and adversarial schedule."""

    generator: str = option("lstm", "G's architecture", choices=("lstm", "gpt2"))
    g_embed_dim: int = option(32, "LSTM G: token embedding size", low=1)
    g_hidden_dim: int = option(32, "LSTM G: hidden size", low=1)
    g_init_std: float = option(0.1, "LSTM G: every parameter drawn from N(0, std)", low=0)
    gpt2_layers: int = option(2, "GPT-2 G: transformer blocks", low=1)
    gpt2_heads: int = option(4, "GPT-2 G: attention heads", low=1)
    gpt2_width: int = option(64, "GPT-2 G: embedding size (a multiple of gpt2_heads)", low=1)
    pretrained_path: str = option("", "GPT-2 G: a local folder of pretrained weights (empty: random init)")
    d_embed_dim: int = option(64, "D: token embedding size", low=1)
    d_filter_sizes: tuple[int, ...] = option((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20),
                                             "D: convolution window sizes (each <= max_len)", low=1)
    d_num_filters: tuple[int, ...] = option((100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160),
                                            "D: filters per window size", low=1)
    d_dropout: float = option(0.25, "D: dropout before the output layer (the paper's keep 0.75)",
                              low=0, high=1, high_open=True)
    d_l2: float = option(0.2, "D: L2 penalty on the output layer", low=0)
    rollouts: int = option(16, "Monte Carlo completions per prefix", low=1)
    pretrain_g_epochs: int = option(120, "epochs of MLE pre-training of G", low=0)
    pretrain_d_rounds: int = option(50, "D pre-training rounds, each d_epochs epochs", low=0)
    d_rounds: int = option(5, "D rounds after each G step, each d_epochs epochs", low=1)
    d_epochs: int = option(3, "epochs of D per round (one epoch: 2 x the data's batches, each half real, half "
                              "fresh negatives)", low=1)
    n_critic: int = option(0, "D updates per G update; 0: d_rounds x d_epochs D epochs (the paper)", low=0)
    ema_decay: float = option(0.0, "0: G itself is the rollout policy (the reference code); above 0: an EMA of G "
                                   "with this decay (the delayed copy the reference's update_rate 0.8 meant)",
                              low=0, high=1, high_open=True)
    lr_g: float = option(1e-2, "generator learning rate (Adam), MLE and policy gradient", low=0, low_open=True)
    lr_d: float = option(1e-4, "discriminator learning rate (Adam)", low=0, low_open=True)
    betas_g: tuple[float, float] = option((0.9, 0.999), "generator Adam betas", low=0, high=1, high_open=True)
    betas_d: tuple[float, float] = option((0.9, 0.999), "discriminator Adam betas", low=0, high=1, high_open=True)
    grad_clip_g: float = option(5.0, "generator gradient norm clip", low=0)
    batch_size: int = option(64, "default batch size", low=1)
    max_steps: int = option(200, "adversarial steps (one G step and its D rounds each)", low=1)

    def validate(self) -> None:
        check_windows(self)
        if self.gpt2_width % self.gpt2_heads:
            raise ConfigError(f"gpt2_width {self.gpt2_width} is not a multiple of gpt2_heads {self.gpt2_heads}")


class Highway(nn.Module):
    """``t * relu(W x) + (1 - t) * x`` with the gate ``t = sigmoid(W_t x)``."""

    def __init__(self, size: int):
        super().__init__()
        self.transform = LinearAct(size, size, act="relu")
        self.gate = LinearAct(size, size, act="sigmoid")

    def forward(self, x: Tensor) -> Tensor:
        t = self.gate(x)
        return t * self.transform(x) + (1 - t) * x


class SeqGANDiscriminator(nn.Module):
    """Token ids (N, L) -> logits (N,) of "real": embedding, one convolution per window size
    with max-over-time pooling, a highway layer, dropout, a linear output. (The paper's two-way
    softmax is the same model as one logit: its probability of "real" is the sigmoid of the
    difference of its two logits.)"""

    def __init__(self, vocab_size: int, embed_dim: int, filter_sizes: tuple[int, ...],
                 num_filters: tuple[int, ...], dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(Conv1dAct(embed_dim, n, k, act="relu")
                                   for k, n in zip(filter_sizes, num_filters))
        width = sum(num_filters)
        self.highway = Highway(width)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(width, 1)
        nn.init.uniform_(self.embedding.weight, -1, 1)
        for conv in self.convs:  # as the reference code: truncated N(0, 0.1) weights, biases 0.1
            nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(conv.bias, 0.1)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embedding(ids).transpose(1, 2)
        pooled = torch.cat([conv(x).amax(dim=2) for conv in self.convs], dim=1)
        return self.out(self.dropout(self.highway(pooled))).squeeze(1)


class SeqGAN(AutoregressiveGAN):
    """SeqGAN: MLE pre-training, then policy gradient with Monte Carlo rollout rewards."""

    config: SeqGANConfig
    generator: TextGenerator
    generator_first = True  # the reference's adversarial step: one G step, then D's epochs
    bench_steps = {"pg": "generator", "d": "discriminator"}  # timed apart: D trains for epochs per PG step

    def __init__(self, config: SeqGANConfig):
        super().__init__(config, build_generator(config),
                         SeqGANDiscriminator(config.vocab_size, config.d_embed_dim, config.d_filter_sizes,
                                             config.d_num_filters, config.d_dropout))

    @property
    def sampling_generator(self) -> TextGenerator:
        """G itself: the EMA copy is the rollout policy, not a better sampler."""
        return self.generator

    @property
    def rollout_policy(self) -> TextGenerator:
        return self.generator_ema if self.generator_ema is not None else self.generator

    # ------------------------------------------------------------------ rewards
    @torch.no_grad()
    def real_probability(self, ids: Tensor) -> Tensor:
        """D's probability that each sequence (N, L) is real, in eval mode (no dropout), in chunks."""
        was_training = self.discriminator.training
        self.discriminator.eval()
        try:
            return torch.cat([torch.sigmoid(self.discriminator(chunk).float()) for chunk in ids.split(REWARD_CHUNK)])
        finally:
            self.discriminator.train(was_training)

    @torch.no_grad()
    def rewards(self, samples: Tensor, rollouts: int | None = None) -> Tensor:
        """Rewards (N, L) of sampled sequences (N, L): for t < L, the mean of D over ``rollouts``
        completions of the first t tokens by the rollout policy; at t = L, D of the sequence."""
        m = self.config.rollouts if rollouts is None else rollouts
        n, length = samples.shape
        completions = self.rollout_policy.complete(samples, m)        # (L - 1, m, N, L)
        partial = self.real_probability(completions.reshape(-1, length)).view(length - 1, m, n).mean(dim=1)
        return torch.cat([partial.T, self.real_probability(samples)[:, None]], dim=1)

    # ------------------------------------------------------------------ objectives
    def discriminator_loss(self, batch: Tensor, step: Step) -> Losses:
        """The reference's D batch: half of ``batch``'s real sequences and as many fresh samples
        of G, classified by the mean cross-entropy over the mixed batch, plus the L2 penalty on
        the output layer."""
        half = batch.shape[0] // 2
        if half == 0:
            raise ConfigError("SeqGAN's D batches are half real, half generated: use a batch size of at least 2")
        real = batch[:half]
        with torch.no_grad():
            fake = self.generator.sample(half, self.config.max_len)
        # adversarial_loss is the sum of the two halves' means: half of it is the mean over the batch
        classify = 0.5 * adversarial_loss(self.discriminator(real), self.discriminator(fake), "non_saturating",
                                          impl=self.impl)
        out = self.discriminator.out
        l2 = 0.5 * (out.weight.square().sum() + out.bias.square().sum())
        return {"loss": classify + self.config.d_l2 * l2, "classify": classify}

    def generator_loss(self, batch: Tensor, step: Step) -> Losses:
        """REINFORCE: ``-mean_t log G(y_t | y_<t) * Q_t`` over G's own samples' valid tokens."""
        with torch.no_grad():
            samples = self.generator.sample(batch.shape[0], self.config.max_len)
            rewards = self.rewards(samples)
        mask = self.generator.token_mask(samples)
        loss = -(self.generator.log_probs(samples) * rewards * mask).sum() / mask.sum()
        return {"loss": loss, "reward": rewards[:, -1].mean()}

    def phases(self, batches_per_epoch: int) -> list[Phase]:
        c = self.config
        return [self.mle_phase(c.pretrain_g_epochs, batches_per_epoch),
                Phase("d_pretrain", "discriminator", c.pretrain_d_rounds * c.d_epochs * 2 * batches_per_epoch,
                      self.discriminator_loss,
                      trains=f"D on real vs G's samples, {c.pretrain_d_rounds} x {c.d_epochs} epochs")]

    def critic_steps(self, batches_per_epoch: int) -> int:
        """D updates after each G step: ``n_critic``, or ``d_rounds`` x ``d_epochs`` D epochs of
        2 x ``batches_per_epoch`` half-real batches (the reference: 5 x 3 x 312 = 4,680)."""
        c = self.config
        return c.n_critic or c.d_rounds * c.d_epochs * 2 * batches_per_epoch


@register_model("seqgan", modality="text", config=SeqGANConfig)
def seqgan(**overrides) -> SeqGAN:
    """SeqGAN with the paper's code's defaults (LSTM G 32/32, CNN D, 16 rollouts)."""
    return SeqGAN(make_config(SeqGANConfig, overrides))
