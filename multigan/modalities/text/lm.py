"""The LSTM language model behind SeqGAN: the oracle that defines the synthetic data, and the
generator that learns to imitate it."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...kernels import sample_categorical, token_logprobs


def tempered_projection(weight: Tensor, bias: Tensor | None, temperature: float) -> tuple[Tensor, Tensor | None]:
    """The output layer ``(weight, bias)`` whose logits are the given layer's divided by
    ``temperature``: ``(h W^T + b) / T = h (W / T)^T + b / T``, so the fused log-probabilities
    of :func:`multigan.kernels.token_logprobs` take a temperature without forming the logits.
    At 1 the layer itself (and its gradients) unchanged."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if temperature == 1:
        return weight, bias
    return weight / temperature, None if bias is None else bias / temperature


class LSTMLanguageModel(nn.Module):
    """embedding -> single-layer nn.LSTM(batch_first=True) -> linear to vocabulary logits.

    Token ids are read left to right from a start token: the logits at position ``t`` predict
    token ``t`` from the start token and tokens ``0 .. t-1``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_dim: int = 32):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def forward(self, inputs: Tensor, state: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Teacher forcing: inputs (N, T) long -> logits (N, T, V) and the final (h, c), each
        (1, N, H). ``state`` continues from an earlier call (None starts from zeros)."""
        out, state = self.lstm(self.embedding(inputs), state)
        return self.head(out), state

    def shifted_inputs(self, ids: Tensor, start_token: int) -> Tensor:
        """(N, L) -> (N, L): ``start_token`` followed by ``ids[:, :-1]`` (the inputs that predict ids)."""
        return torch.cat([ids.new_full((ids.shape[0], 1), start_token), ids[:, :-1]], dim=1)

    def log_probs(self, ids: Tensor, start_token: int, impl: str = "auto", temperature: float = 1.0) -> Tensor:
        """Per-token ``log p(ids[:, t] | start, ids[:, :t])`` of ids (N, L) under
        ``softmax(logits / temperature)``, as float32 (N, L), by
        :func:`multigan.kernels.token_logprobs` (``impl`` chooses its implementation)."""
        hidden, _ = self.lstm(self.embedding(self.shifted_inputs(ids, start_token)))
        weight, bias = tempered_projection(self.head.weight, self.head.bias, temperature)
        return token_logprobs(hidden, weight, bias, ids, impl=impl)

    @torch.no_grad()
    def sample(self, n: int, length: int, start_token: int, generator: torch.Generator | None = None,
               temperature: float = 1.0, impl: str = "auto") -> Tensor:
        """(n, length) long token ids, each drawn from softmax(logits / temperature) given the
        ones before it, on the module's device; ``generator`` (on that device) gives the
        random draws (:func:`multigan.kernels.sample_categorical`, run as ``impl`` says), so
        the same generator state gives the same ids.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        token = torch.full((n, 1), start_token, dtype=torch.long, device=self.head.weight.device)
        state, tokens = None, []
        for _ in range(length):
            logits, state = self(token, state)
            token = sample_categorical(logits[:, 0], temperature, generator=generator, impl=impl).unsqueeze(1)
            tokens.append(token)
        return torch.cat(tokens, dim=1) if tokens else token.new_empty((n, 0))
