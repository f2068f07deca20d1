"""Plain-PyTorch RelGAN adversarial training loop: the benchmark baseline for multigan's ``relgan``.

Reproduces multigan's RelGAN as a hand-written eager fp32 loop following the structure of the
paper's reference code (weilinie/RelGAN). G: a token embedding, a relational memory core
(``mem_slots`` rows of ``num_heads * head_size`` features, starting from the identity; the
projected input joins the rows; multi-head self-attention with queries scaled by
``(3 * head_size) ** -0.5``, a two-layer MLP, each with a residual and a layer normalisation of
the whole (rows, features) block with a gain and bias per feature; input and forget gates with
forget bias 1), a linear layer from the flattened memory to the logits. D: the one-hot or
relaxed input (N, L, V) times an embedding matrix, the ``d_embed_dim`` features split into
``d_representations`` representations (one 2-D convolution per window size whose kernel spans
one representation's features, with as large a stride: the reference code's layout), ReLU and
max over time, a highway layer without biases, dropout, two linear layers: one logit per
representation. Initialisation as multigan's (the reference's): every weight truncated normal
(cut at two std) of std ``1 / sqrt(fan_in)`` (embeddings: ``1 / sqrt(vocab_size)``;
convolutions: ``sqrt(2 / fan_in)``), biases zero, norm gains one. G's sequences reach D as
relaxed one-hots ``softmax(beta * (o + g))`` with Gumbel noise ``g``, G reading the drawn token
``argmax(o + g)`` at the next position; the RSGAN loss over D's (N, representations) logits;
Adam with the config's learning rates and betas; gradient-norm clipping at ``grad_clip_g`` and
``grad_clip_d`` (5 by default, on in multigan's trainer too). One iteration is what one
adversarial step of multigan's trainer does for RelGAN (``generator_first``): one G update,
then ``n_critic`` D updates, each update on its own real batch, each D update on fresh fakes
sampled without autograd at the step's beta.

How it differs from multigan's trainer (part of what the benchmark compares):

* real sequences reach D as one-hot rows (N, L, V) multiplied by the embedding matrix, as the
  reference code does (multigan looks the ids up: the same values, without the matmul);
* D's convolutions are 2-D over (L, E), striding one representation at a time, the reference's
  layout (multigan: 1-D convolutions over the (N * representations, E / representations, L)
  slices, with its fused bias and ReLU); the same weights, laid out differently;
* attention is written out, two matmuls and a softmax (multigan: ``scaled_dot_product_attention``);
* Gumbel noise is ``-log(-log(u + 1e-10) + 1e-10)``, the reference's (multigan clamps ``u``
  above zero instead);
* G's backward also computes D's weight gradients (multigan freezes D during G's update);
* beta follows the paper's exponential schedule, ``beta_max ** (min(i, beta_steps) / beta_steps)``
  at iteration i, whatever ``beta_schedule`` says (it sets only beta's value, not the work);
* no finite-loss or finite-gradient checks, no loss logging, no EMA of G (``ema_decay`` is
  ignored; its default is off) and no mixed precision; PyTorch's default Adam (multigan uses
  fused Adam on CUDA with ``kernels="auto"``) and plain PyTorch layers (no fused kernels).

Sequences start from token 0 with no end-of-sequence handling: the oracle's setting (with a
text corpus multigan starts from BOS and gives the positions after EOS PAD's one-hot). The MLE
pre-training phase is not part of an iteration. Exact initialisation matters little for the
timing; it is the same family so that the two loops start from comparable networks.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

UNIT = "sequences/s"
N_BATCHES = 4  # synthetic real batches made once and cycled through
START = 0      # the start token fed before the first token (the oracle's)


def _trunc_normal_(weight: torch.Tensor, std: float) -> torch.Tensor:
    return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)  # TensorFlow's truncated normal


def _linear(n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    _trunc_normal_(layer.weight, 1 / math.sqrt(n_in))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class BlockNorm(nn.Module):
    """Layer norm over each (rows, features) block together, then a gain and bias per feature."""

    def __init__(self, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-2:], eps=1e-12) * self.weight + self.bias


class Generator(nn.Module):
    """(token ids (N,), memory (N, slots, M)) -> (next-token logits (N, V), new memory)."""

    def __init__(self, vocab_size: int, embed_dim: int, slots: int, heads: int, head_size: int):
        super().__init__()
        self.slots, self.heads, self.head_size = slots, heads, head_size
        self.width = width = heads * head_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        _trunc_normal_(self.embedding.weight, 1 / math.sqrt(vocab_size))
        self.input_projection = _linear(embed_dim, width)
        self.qkv = _linear(width, 3 * width, bias=False)
        self.qkv_norm = BlockNorm(3 * width)
        self.attention_norm = BlockNorm(width)
        self.mlp = nn.Sequential(_linear(width, width), nn.ReLU(), _linear(width, width))
        self.mlp_norm = BlockNorm(width)
        self.gate_input = _linear(width, 2 * width, bias=False)
        self.gate_memory = _linear(width, 2 * width, bias=False)
        self.head = _linear(slots * width, vocab_size)

    def initial_memory(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.eye(self.slots, self.width, device=device).expand(n, -1, -1)

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.input_projection(self.embedding(tokens))[:, None]           # (N, 1, M)
        rows = torch.cat([memory, row], dim=1)                                 # (N, R, M)
        n, r, _ = rows.shape
        qkv = self.qkv_norm(self.qkv(rows)).view(n, r, self.heads, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.split(self.head_size, dim=-1)                            # (N, heads, R, head_size)
        weights = torch.softmax(q @ k.transpose(-1, -2) * (3 * self.head_size) ** -0.5, dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(n, r, self.width)
        rows = self.attention_norm(rows + attended)
        rows = self.mlp_norm(rows + self.mlp(rows))
        input_gate, forget_gate = (self.gate_input(row) + self.gate_memory(torch.tanh(memory))).chunk(2, dim=-1)
        memory = torch.sigmoid(input_gate) * torch.tanh(rows[:, :-1]) + torch.sigmoid(forget_gate + 1.0) * memory
        return self.head(memory.flatten(1)), memory


class Discriminator(nn.Module):
    """One-hot or relaxed sequences (N, L, V) -> logits (N, representations)."""

    def __init__(self, vocab_size: int, embed_dim: int, representations: int, filter_sizes, num_filters,
                 hidden: int, dropout: float):
        super().__init__()
        single = embed_dim // representations
        self.width = width = sum(num_filters)
        self.embedding = nn.Parameter(_trunc_normal_(torch.empty(vocab_size, embed_dim), 1 / math.sqrt(vocab_size)))
        self.convs = nn.ModuleList(nn.Conv2d(1, n, (k, single), stride=(1, single))
                                   for k, n in zip(filter_sizes, num_filters))
        for conv, k in zip(self.convs, filter_sizes):
            _trunc_normal_(conv.weight, math.sqrt(2 / (k * single)))
            nn.init.zeros_(conv.bias)
        self.highway = _linear(width, width, bias=False)
        self.gate = _linear(width, width, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.hidden = _linear(width, hidden)
        self.out = _linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        embedded = (x @ self.embedding)[:, None]                               # (N, 1, L, E)
        # each convolution: (N, filters, L - k + 1, representations), max over time
        pooled = torch.cat([F.relu(conv(embedded)).amax(dim=2) for conv in self.convs], dim=1)
        pooled = pooled.transpose(1, 2).reshape(-1, self.width)                # (N * representations, filters)
        gate = torch.sigmoid(self.gate(pooled))
        features = gate * F.relu(self.highway(pooled)) + (1 - gate) * pooled
        return self.out(self.hidden(self.dropout(features))).view(n, -1)


def _networks(config: dict) -> tuple[Generator, Discriminator]:
    gen = Generator(config["vocab_size"], config["g_embed_dim"], config["mem_slots"], config["num_heads"],
                    config["head_size"])
    disc = Discriminator(config["vocab_size"], config["d_embed_dim"], config["d_representations"],
                         config["d_filter_sizes"], config["d_num_filters"], config["d_hidden"], config["d_dropout"])
    return gen, disc


def parameter_counts(config: dict) -> tuple[int, int]:
    """(G, D) parameter counts of the baseline's networks for ``config``."""
    return tuple(sum(p.numel() for p in net.parameters()) for net in _networks(config))


def _relaxed_sample(gen: Generator, n: int, length: int, beta: float, device: torch.device) -> torch.Tensor:
    """``n`` sequences of G as relaxed one-hots (n, length, V) at inverse temperature ``beta``."""
    tokens = torch.full((n,), START, dtype=torch.long, device=device)
    memory = gen.initial_memory(n, device)
    relaxed = []
    for _ in range(length):
        logits, memory = gen(tokens, memory)
        u = torch.rand_like(logits)
        perturbed = logits - torch.log(-torch.log(u + 1e-10) + 1e-10)
        tokens = perturbed.argmax(dim=-1)  # G reads the drawn token next
        relaxed.append(torch.softmax(beta * perturbed, dim=-1))
    return torch.stack(relaxed, dim=1)


def _update(loss: torch.Tensor, optimizer: torch.optim.Optimizer, net: nn.Module, clip: float) -> None:
    """One Adam step on ``loss``, the gradient norm clipped at ``clip`` (0: not clipped)."""
    optimizer.zero_grad()
    loss.backward()
    if clip > 0:
        nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()


def make_step(config: dict, batch_size: int, device: str | torch.device,
              step: str = "train") -> tuple[Callable[[], None], float]:
    """(one adversarial iteration, its units: one batch, ``batch_size`` sequences, as multigan's
    benchmark counts an iteration whatever ``n_critic``)."""
    if step != "train":
        raise ValueError(f"the relgan baseline has one step, 'train'; got {step!r}")
    device = torch.device(device)
    gen, disc = (net.to(device) for net in _networks(config))
    opt_g = torch.optim.Adam(gen.parameters(), lr=config["lr_g"], betas=tuple(config["betas_g"]))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr_d"], betas=tuple(config["betas_d"]))
    vocab, length = config["vocab_size"], config["max_len"]
    rng = torch.Generator().manual_seed(0)
    reals = itertools.cycle([torch.randint(vocab, (batch_size, length), generator=rng).to(device)
                             for _ in range(N_BATCHES)])
    clip_g, clip_d, n_critic = config["grad_clip_g"], config["grad_clip_d"], config["n_critic"]
    beta_max, beta_steps = config["beta_max"], config["beta_steps"]
    iteration = 0

    def run_one_iteration() -> None:
        nonlocal iteration
        beta = beta_max ** (min(iteration, beta_steps) / beta_steps)
        iteration += 1

        real = F.one_hot(next(reals), vocab).float()
        fake = _relaxed_sample(gen, batch_size, length, beta, device)
        d_real, d_fake = disc(real), disc(fake)
        rsgan = F.binary_cross_entropy_with_logits(d_fake - d_real, torch.ones_like(d_fake))
        _update(rsgan, opt_g, gen, clip_g)

        for _ in range(n_critic):
            real = F.one_hot(next(reals), vocab).float()
            with torch.no_grad():
                fake = _relaxed_sample(gen, batch_size, length, beta, device)
            d_real, d_fake = disc(real), disc(fake)
            rsgan = F.binary_cross_entropy_with_logits(d_real - d_fake, torch.ones_like(d_real))
            _update(rsgan, opt_d, disc, clip_d)

    return run_one_iteration, float(batch_size)


def make_generate(config: dict, batch_size: int, device: str | torch.device,
                  seconds: float | None = None) -> tuple[Callable[[], torch.Tensor], float]:
    """(one generation call: G samples ``batch_size`` sequences of ``max_len`` token ids, each
    token ``argmax(o + g)`` with Gumbel noise ``g`` as the reference code draws them, fp32, eval
    mode, under ``torch.inference_mode``; the sequences it makes). ``seconds`` is for the
    vocoders' baselines and unused here."""
    device = torch.device(device)
    gen = _networks(config)[0].eval().to(device)
    length = config["max_len"]

    def generate() -> torch.Tensor:
        with torch.inference_mode():
            tokens = torch.full((batch_size,), START, dtype=torch.long, device=device)
            memory = gen.initial_memory(batch_size, device)
            out = []
            for _ in range(length):
                logits, memory = gen(tokens, memory)
                u = torch.rand_like(logits)
                tokens = (logits - torch.log(-torch.log(u + 1e-10) + 1e-10)).argmax(dim=-1)
                out.append(tokens)
            return torch.stack(out, dim=1)

    return generate, float(batch_size)
