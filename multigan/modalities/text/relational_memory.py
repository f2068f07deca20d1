"""RelGAN's generator: a relational memory core (Santoro et al., "Relational recurrent neural
networks", NeurIPS 2018) reading token embeddings, behind the :class:`TextGenerator` interface.

The memory is ``slots`` rows of ``heads * head_size`` features. At each position the input
(the token's embedding, projected to a row) joins the memory; multi-head self-attention, a
two-layer MLP and two layer normalisations (each with a residual) update every row; the
memory's rows come out, and LSTM-like input and forget gates (per feature, computed from the
input and the old memory) mix them into the new memory. The flattened memory is the output,
which a linear layer maps to the vocabulary's logits.

Details follow RelGAN's reference code (weilinie/RelGAN, utils/models/relational_memory.py,
models/rmc_vanilla.py): key size = head size; queries scaled by ``(2 * key + head) ** -0.5``;
the layer normalisations normalise a (rows, features) block together, with a gain and bias per
feature (``tf.contrib.layers.layer_norm``); forget bias 1, input bias 0; the initial memory is
the identity, cut or padded with zeros; every weight is drawn from a normal of std
``1 / sqrt(fan_in)`` cut at two standard deviations (TensorFlow's truncated normal), biases 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...kernels import token_logprobs
from .generators import State, TextGenerator
from .lm import tempered_projection

FORGET_BIAS = 1.0
INPUT_BIAS = 0.0
LAYER_NORM_EPS = 1e-12   # tf.contrib.layers.layer_norm's


def truncated_normal_(weight: Tensor, std: float) -> Tensor:
    """Fill ``weight`` from N(0, std²) cut at ±2 std (TensorFlow's ``truncated_normal_initializer``)."""
    return nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def reference_init_(layer: nn.Linear) -> nn.Linear:
    """The reference code's linear layer: weights truncated normal of std ``1 / sqrt(fan_in)``,
    bias zero."""
    truncated_normal_(layer.weight, 1 / math.sqrt(layer.in_features))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    return reference_init_(nn.Linear(in_features, out_features, bias=bias))


class BlockLayerNorm(nn.Module):
    """Layer normalisation of each (rows, features) block as a whole, with a gain and bias per
    feature. (Sonnet's relational memory normalises each row on its own; RelGAN's reference
    normalises the block.)"""

    def __init__(self, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-2:], eps=LAYER_NORM_EPS) * self.weight + self.bias


class RelationalMemory(nn.Module):
    """One step of the relational memory core: (input (N, input_size), memory (N, slots, M))
    -> (output (N, slots * M), new memory), with ``M = heads * head_size``."""

    def __init__(self, input_size: int, slots: int, heads: int, head_size: int):
        super().__init__()
        self.slots, self.heads, self.head_size = slots, heads, head_size
        width = heads * head_size
        self.width = width
        self.input_projection = _linear(input_size, width)
        self.qkv = _linear(width, heads * 3 * head_size, bias=False)
        self.qkv_norm = BlockLayerNorm(heads * 3 * head_size)
        self.attention_norm = BlockLayerNorm(width)
        self.mlp = nn.Sequential(_linear(width, width), nn.ReLU(), _linear(width, width))
        self.mlp_norm = BlockLayerNorm(width)
        self.gate_input = _linear(width, 2 * width, bias=False)
        self.gate_memory = _linear(width, 2 * width, bias=False)

    @property
    def output_size(self) -> int:
        return self.slots * self.width

    def initial_memory(self, n: int, device: torch.device) -> Tensor:
        """(n, slots, M): the identity matrix, cut or padded with zeros to M columns."""
        return torch.eye(self.slots, self.width, device=device).expand(n, -1, -1)

    def attend(self, rows: Tensor) -> Tensor:
        """Multi-head self-attention among the rows (N, R, M) of the memory and the input."""
        n, r, _ = rows.shape
        qkv = self.qkv_norm(self.qkv(rows)).view(n, r, self.heads, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.split(self.head_size, dim=-1)                        # each (N, heads, R, head_size)
        out = F.scaled_dot_product_attention(q, k, v, scale=(3 * self.head_size) ** -0.5)
        return out.transpose(1, 2).reshape(n, r, self.width)

    def forward(self, x: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        row = self.input_projection(x)[:, None]                            # (N, 1, M)
        rows = torch.cat([memory, row], dim=1)
        rows = self.attention_norm(rows + self.attend(rows))
        rows = self.mlp_norm(rows + self.mlp(rows))
        gates = self.gate_input(row) + self.gate_memory(torch.tanh(memory))  # (N, slots, 2M)
        input_gate, forget_gate = gates.chunk(2, dim=-1)
        memory = (torch.sigmoid(input_gate + INPUT_BIAS) * torch.tanh(rows[:, :-1])
                  + torch.sigmoid(forget_gate + FORGET_BIAS) * memory)
        return memory.flatten(1), memory


class RelationalMemoryGenerator(TextGenerator):
    """Token embedding -> :class:`RelationalMemory` -> linear to the vocabulary's logits. The
    state is the memory (N, slots, heads * head_size)."""

    def __init__(self, vocab_size: int, embed_dim: int, slots: int, heads: int, head_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        truncated_normal_(self.embedding.weight, 1 / math.sqrt(vocab_size))
        self.memory = RelationalMemory(embed_dim, slots, heads, head_size)
        self.head = _linear(self.memory.output_size, vocab_size)

    def read(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Read ``tokens`` (N,) after ``state`` (None: the initial memory): the output (N, slots * M)
        and the new memory."""
        if state is None:
            state = self.memory.initial_memory(tokens.shape[0], tokens.device)
        return self.memory(self.embedding(tokens), state)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        hidden, state = self.read(tokens, state)
        return self.head(hidden), state

    def select(self, state: State, index: Tensor) -> State:
        return state[index]

    def cat(self, states: list[State]) -> State:
        return torch.cat(states)

    def log_probs(self, ids: Tensor, temperature: float = 1.0) -> Tensor:
        inputs = torch.cat([ids.new_full((ids.shape[0], 1), self.start_token), ids[:, :-1]], dim=1)
        state, hidden = None, []
        for t in range(ids.shape[1]):
            out, state = self.read(inputs[:, t], state)
            hidden.append(out)
        # the (N, L, V) logits are never formed: the output projection is chunked inside
        weight, bias = tempered_projection(self.head.weight, self.head.bias, temperature)
        return token_logprobs(torch.stack(hidden, dim=1), weight, bias, ids, impl=self.impl)
