"""Plain-PyTorch SeqGAN adversarial steps: the benchmark baseline for multigan's ``seqgan``.

Reproduces multigan's SeqGAN (LSTM generator) as hand-written eager fp32 code following the
structure of the paper's reference code: G an embedding, a one-layer LSTM and a linear head,
every parameter from N(0, ``g_init_std``); D an embedding (U(-1, 1)), one convolution per
window size (truncated N(0, 0.1) weights, biases 0.1) with max-over-time pooling, a highway
layer, dropout and one "real" logit; Adam with the config's settings. Two steps are timed
separately, as multigan's trainer runs one G step then many D updates per adversarial step:

``"pg"``: sample a batch from G token by token (``torch.multinomial`` on the softmax); score it
  by Monte Carlo rollouts as the reference code does, a Python loop over the rollout index and
  over each prefix length ("given_num"), each rollout re-running the rollout policy's LSTM over
  the prefix and then sampling the rest token by token, D (eval mode, no dropout) scoring each
  completed batch; rewards are D's probabilities of "real" averaged over the rollouts, and D of
  the sequence itself for the last token; then the REINFORCE loss
  ``-mean(log G(y_t | y_<t) * Q_t)``, a gradient-norm clip at ``grad_clip_g`` and an Adam step
  of G; with ``ema_decay`` > 0 the rollout policy then moves to
  ``ema_decay * policy + (1 - ema_decay) * G`` (a delayed copy; with 0, the default and the
  reference code's behaviour, G rolls out itself).
``"d"``: one D update on a batch of half real sequences and half fresh negatives sampled from
  G (the reference code's mixed batches): the mean cross-entropy plus ``d_l2 / 2`` times the
  squared norm of D's output layer.

The work per step matches multigan's in count: G samples a batch of ``max_len`` tokens (for
the PG step and for the D update's negatives), the rollouts complete each of its ``max_len - 1``
prefixes ``rollouts`` times, and D scores as many rows. How it differs (part of what the
benchmark compares): each completion re-runs the LSTM over its prefix (multigan reads every
prefix once and samples all unfinished completions together, one LSTM step per position over
the rows that are sampling); D scores one batch of completions per call (multigan: up to 4,096
rows per call); tokens are drawn with ``torch.multinomial`` (multigan: an inverse-CDF draw, or
its fused Gumbel-max kernel); the D update classifies real and fake sequences in one
concatenated forward (multigan: two); the rollout policy is updated parameter by parameter
(multigan: one foreach lerp); PyTorch's default Adam (multigan: fused Adam on CUDA with
``kernels="auto"``); no finite-loss or finite-gradient checks, no loss logging, no mixed
precision. Sequences start from token 0 with no end-of-sequence masking: the oracle's setting
(with a text corpus multigan starts from BOS and masks the positions after EOS). The GPT-2
generator is not covered.
"""

from __future__ import annotations

import copy
import itertools
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

UNIT = "sequences/s"
STEPS = ("pg", "d")
N_BATCHES = 4  # synthetic real batches made once and cycled through
START = 0      # the start token fed before the first token (the oracle's)


class Generator(nn.Module):
    """Token ids (N, T) and an optional LSTM state -> next-token logits (N, T, V) and the state."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, init_std: float):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        for p in self.parameters():
            nn.init.normal_(p, 0.0, init_std)
        with torch.no_grad():  # one bias per gate, as the reference code's LSTM
            self.lstm.bias_hh_l0.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)

    def forward(self, tokens: torch.Tensor, state=None):
        hidden, state = self.lstm(self.embeddings(tokens), state)
        return self.output(hidden), state


class Highway(nn.Module):
    """``t * relu(H x) + (1 - t) * x`` with the gate ``t = sigmoid(T x)``."""

    def __init__(self, size: int):
        super().__init__()
        self.h, self.t = nn.Linear(size, size), nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.t(x))
        return gate * F.relu(self.h(x)) + (1 - gate) * x


class Discriminator(nn.Module):
    """Token ids (N, L) -> logits (N,) of "real"."""

    def __init__(self, vocab_size: int, emb_dim: int, filter_sizes, num_filters, dropout: float):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, k) for k, n in zip(filter_sizes, num_filters))
        total = sum(num_filters)
        self.highway = Highway(total)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(total, 1)
        nn.init.uniform_(self.embeddings.weight, -1.0, 1.0)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, 0.0, 0.1, -0.2, 0.2)
            nn.init.constant_(conv.bias, 0.1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids).transpose(1, 2)  # (N, E, L)
        features = torch.cat([F.relu(conv(x)).max(dim=2).values for conv in self.convs], dim=1)
        return self.output(self.dropout(self.highway(features))).view(-1)


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    if config["generator"] != "lstm":
        raise ValueError(f"the seqgan baseline covers the LSTM generator, not {config['generator']!r}")
    gen = Generator(config["vocab_size"], config["g_embed_dim"], config["g_hidden_dim"], config["g_init_std"])
    disc = Discriminator(config["vocab_size"], config["d_embed_dim"], config["d_filter_sizes"],
                         config["d_num_filters"], config["d_dropout"])
    return gen, disc


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def _continue(gen: Generator, logits: torch.Tensor, state, n_tokens: int) -> torch.Tensor:
    """Sample ``n_tokens`` tokens one at a time, starting from the next-token logits (N, V)
    and the LSTM state after reading what came before: (N, n_tokens)."""
    tokens = []
    for i in range(n_tokens):
        token = torch.multinomial(F.softmax(logits, dim=-1), 1)
        tokens.append(token)
        if i < n_tokens - 1:
            out, state = gen(token, state)
            logits = out[:, -1]
    return torch.cat(tokens, dim=1)


def _with_start(ids: torch.Tensor) -> torch.Tensor:
    return torch.cat([ids.new_full((ids.shape[0], 1), START), ids], dim=1)


def _generate(gen: Generator, n: int, length: int, device: torch.device) -> torch.Tensor:
    out, state = gen(torch.full((n, 1), START, dtype=torch.long, device=device))
    return _continue(gen, out[:, -1], state, length)


def _rewards(policy: Generator, disc: Discriminator, samples: torch.Tensor, rollouts: int) -> torch.Tensor:
    """(N, L) rewards of ``samples`` (N, L) by Monte Carlo rollouts of ``policy`` scored by ``disc``."""
    n, length = samples.shape
    rewards = torch.zeros(n, length, device=samples.device)
    disc.eval()
    for _ in range(rollouts):
        for given_num in range(1, length):
            out, state = policy(_with_start(samples[:, :given_num]))  # re-read the prefix
            rest = _continue(policy, out[:, -1], state, length - given_num)
            completed = torch.cat([samples[:, :given_num], rest], dim=1)
            rewards[:, given_num - 1] += torch.sigmoid(disc(completed))
    rewards /= rollouts
    rewards[:, length - 1] = torch.sigmoid(disc(samples))
    disc.train()
    return rewards


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one ``step`` of ``"pg"`` or ``"d"``, sequences per step: ``batch_size``)."""
    if step not in STEPS:
        raise ValueError(f"the seqgan baseline times two steps separately, 'pg' (policy gradient) and 'd' "
                         f"(discriminator); got {step!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    length = config["max_len"]

    if step == "pg":
        opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
        decay, clip, rollouts = config["ema_decay"], config["grad_clip_g"], config["rollouts"]
        policy = gen
        if decay > 0:
            policy = copy.deepcopy(gen).requires_grad_(False)
            policy.lstm.flatten_parameters()  # a deep copy's LSTM weights are no longer one cuDNN buffer

        def pg_step() -> None:
            with torch.no_grad():
                samples = _generate(gen, batch_size, length, device)
                rewards = _rewards(policy, disc, samples, rollouts)
            logits, _ = gen(_with_start(samples[:, :-1]))
            log_probs = -F.cross_entropy(logits.transpose(1, 2), samples, reduction="none")  # (N, L)
            loss = -(log_probs * rewards).mean()
            opt_g.zero_grad()
            loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(gen.parameters(), clip)
            opt_g.step()
            if decay > 0:
                with torch.no_grad():
                    for p_policy, p in zip(policy.parameters(), gen.parameters()):
                        p_policy.mul_(decay).add_(p, alpha=1 - decay)

        return pg_step, float(batch_size)

    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    rng = torch.Generator().manual_seed(0)
    reals = itertools.cycle([torch.randint(config["vocab_size"], (batch_size, length), generator=rng).to(device)
                             for _ in range(N_BATCHES)])
    half = batch_size // 2
    labels = torch.cat([torch.ones(half), torch.zeros(half)]).to(device)
    d_l2 = config["d_l2"]

    def d_step() -> None:
        real = next(reals)[:half]
        with torch.no_grad():
            fake = _generate(gen, half, length, device)
        logits = disc(torch.cat([real, fake]))
        classify = F.binary_cross_entropy_with_logits(logits, labels)
        l2 = 0.5 * (disc.output.weight.square().sum() + disc.output.bias.square().sum())
        loss = classify + d_l2 * l2
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

    return d_step, float(batch_size)


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float | None = None) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G samples ``batch_size`` sequences of ``max_len`` tokens, token by
    token, fp32, eval mode, under ``torch.inference_mode``; the sequences it makes).
    ``seconds`` is for the vocoders' baselines and unused here."""
    device = torch.device(device)
    gen = _networks(config)[0].eval().to(device)
    length = config["max_len"]

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            return _generate(gen, batch_size, length, device)

    return generate, float(batch_size)
