"""SeqGAN's generators: an LSTM (the paper's) or a GPT-2 (transformers), behind one interface.

A generator reads tokens left to right from a start token. It exposes ``start`` (the
distribution of the first token), ``step`` (feed tokens, get the next distribution) and
state selection; on these, :class:`TextGenerator` builds sampling, teacher-forced
log-probabilities and the vectorised Monte Carlo completions SeqGAN's rewards need.

With a tokenizer attached (text corpora), the start token is BOS and a sequence ends at its
first EOS: later positions are PAD and are masked out of losses and rewards. Without one
(the oracle), the start token is 0 and every position counts. The tokenizer is saved with
the generator's weights (its extra state), so a trained model decodes on its own.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor, nn

from ...kernels import sample_categorical, token_logprobs
from ...errors import DataError
from .data import ORACLE_START
from .lm import LSTMLanguageModel, tempered_projection
from .tokenizer import Tokenizer

State = Any


class TextGenerator(nn.Module, metaclass=abc.ABCMeta):
    """The interface SeqGAN trains; subclasses define ``step``, ``select``, ``cat`` and ``log_probs``."""

    def __init__(self):
        super().__init__()
        self.tokenizer: Tokenizer | None = None
        self.impl = "auto"  # how its kernels run: set by GAN.use_kernels

    # ------------------------------------------------------------------ to define
    @abc.abstractmethod
    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Read ``tokens`` (n,) after ``state`` (None: nothing read yet): logits (n, V) of the
        next token, and the new state."""

    @abc.abstractmethod
    def select(self, state: State, index: Tensor) -> State:
        """The rows ``index`` of a state."""

    @abc.abstractmethod
    def cat(self, states: list[State]) -> State:
        """States of the same position stacked along the batch."""

    @abc.abstractmethod
    def log_probs(self, ids: Tensor, temperature: float = 1.0) -> Tensor:
        """Teacher forcing: ``log p(ids[:, t] | start, ids[:, :t])``, float (N, L), under
        ``softmax(logits / temperature)``."""

    def start(self, n: int) -> tuple[Tensor, State]:
        """Logits (n, V) of the first token, and the state after reading the start token."""
        tokens = torch.full((n,), self.start_token, dtype=torch.long, device=self.device)
        return self.step(tokens, None)

    # ------------------------------------------------------------------ tokens
    @property
    def start_token(self) -> int:
        return self.tokenizer.bos_id if self.tokenizer is not None else ORACLE_START

    @property
    def eos(self) -> int | None:
        return self.tokenizer.eos_id if self.tokenizer is not None else None

    @property
    def pad(self) -> int:
        return self.tokenizer.pad_id if self.tokenizer is not None else 0

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def token_mask(self, ids: Tensor) -> Tensor:
        """1.0 for the positions that count (up to and including the first EOS), else 0.0."""
        if self.eos is None:
            return torch.ones_like(ids, dtype=torch.float32)
        is_eos = (ids == self.eos).long()
        after_eos = (is_eos.cumsum(dim=1) - is_eos) > 0
        return (~after_eos).float()

    def _draw(self, logits: Tensor, done: Tensor, rng: torch.Generator | None,
              temperature: float = 1.0) -> tuple[Tensor, Tensor]:
        """Sample one token per row from ``softmax(logits / temperature)``; rows already ended
        get PAD. Returns (tokens, done)."""
        tokens = sample_categorical(logits, temperature, generator=rng)
        tokens = torch.where(done, torch.full_like(tokens, self.pad), tokens)
        if self.eos is not None:
            done = done | (tokens == self.eos)
        return tokens, done

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(self, n: int, length: int, rng: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """(n, length) token ids drawn from the model (PAD after an EOS), each token from
        ``softmax(logits / temperature)``."""
        logits, state = self.start(n)
        done = torch.zeros(n, dtype=torch.bool, device=logits.device)
        out = []
        for t in range(length):
            token, done = self._draw(logits, done, rng, temperature)
            out.append(token)
            if t < length - 1:
                logits, state = self.step(token, state)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def prefix_states(self, ids: Tensor) -> list[tuple[Tensor, State]]:
        """One teacher-forced pass over ids (N, L): for t = 1 .. L-1, the logits of token t and
        the state after reading the start token and ``ids[:, :t]``."""
        logits, state = self.start(ids.shape[0])
        out = []
        for t in range(1, ids.shape[1]):
            logits, state = self.step(ids[:, t - 1], state)
            out.append((logits, state))
        return out

    @torch.no_grad()
    def complete(self, ids: Tensor, rollouts: int, rng: torch.Generator | None = None) -> Tensor:
        """Monte Carlo completions of every proper prefix of ids (N, L), ``rollouts`` each:
        (L - 1, rollouts, N, L), where ``[t - 1, m]`` keeps ``ids[:, :t]`` and samples the rest.

        Vectorised: the prefixes' states come from one teacher-forced pass; then one loop
        over positions samples every unfinished completion at once. The completions of
        prefix t join the batch at position t, when they start sampling, so each step runs
        only the rows that are sampling.
        """
        n, length = ids.shape
        if length < 2:
            return ids.new_empty((0, rollouts, n, length))
        prefixes = self.prefix_states(ids)
        repeat = torch.arange(n, device=ids.device).repeat(rollouts)        # row r -> sequence r % n
        seqs, done, logits, state = [], None, None, None
        for t in range(1, length):
            # the completions of the t-token prefix join: rollouts copies of each sequence
            new_logits, new_state = prefixes[t - 1]
            new_seqs = ids[repeat]
            new_done = self.token_mask(new_seqs)[:, t] == 0  # the prefix already ended
            if state is None:
                logits, state, done = new_logits[repeat], self.select(new_state, repeat), new_done
            else:
                logits = torch.cat([logits, new_logits[repeat]])
                state = self.cat([state, self.select(new_state, repeat)])
                done = torch.cat([done, new_done])
            seqs.append(new_seqs)
            tokens, done = self._draw(logits, done, rng)
            rows = torch.cat(seqs)
            rows[:, t] = tokens
            seqs = list(rows.split(n * rollouts))
            if t < length - 1:
                logits, state = self.step(tokens, state)
        return torch.stack(seqs).view(length - 1, rollouts, n, length)

    # ------------------------------------------------------------------ the tokenizer travels with the weights
    def get_extra_state(self) -> dict[str, Tensor]:
        data = b"" if self.tokenizer is None else self.tokenizer.to_bytes()
        return {"tokenizer": torch.frombuffer(bytearray(data), dtype=torch.uint8) if data
                else torch.zeros(0, dtype=torch.uint8)}

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        data = state["tokenizer"]
        self.tokenizer = Tokenizer.from_bytes(bytes(data.cpu().numpy().tobytes())) if data.numel() else None


class LSTMGenerator(TextGenerator):
    """The paper's G: an LSTM language model, every parameter drawn from N(0, init_std), with
    one bias per gate as the reference code has (PyTorch's LSTM adds a second, hidden-side
    bias: it is kept at zero and frozen)."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, init_std: float):
        super().__init__()
        self.lm = LSTMLanguageModel(vocab_size, embed_dim, hidden_dim)
        for p in self.lm.parameters():
            nn.init.normal_(p, std=init_std)
        with torch.no_grad():
            self.lm.lstm.bias_hh_l0.zero_()
        self.lm.lstm.bias_hh_l0.requires_grad_(False)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        logits, state = self.lm(tokens[:, None], state)
        return logits[:, 0], state

    def select(self, state: State, index: Tensor) -> State:
        return tuple(s[:, index] for s in state)

    def cat(self, states: list[State]) -> State:
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states))

    def log_probs(self, ids: Tensor, temperature: float = 1.0) -> Tensor:
        return self.lm.log_probs(ids, self.start_token, impl=self.impl, temperature=temperature)


class GPT2Generator(TextGenerator):
    """G as a GPT-2 (transformers' GPT2LMHeadModel), random or from a local pretrained folder.

    The state is the key/value cache, one tensor pair per block, (N, heads, positions, dim)."""

    def __init__(self, vocab_size: int, max_len: int, layers: int, heads: int, width: int, pretrained_path: str):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        if pretrained_path:
            try:
                self.model = GPT2LMHeadModel.from_pretrained(pretrained_path, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot load a GPT-2 from {pretrained_path!r}: {exc}") from exc
            if self.model.config.vocab_size != vocab_size:
                self.model.resize_token_embeddings(vocab_size)
        else:
            self.model = GPT2LMHeadModel(GPT2Config(
                vocab_size=vocab_size, n_positions=max_len + 1, n_embd=width, n_layer=layers, n_head=heads,
                resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # a policy, like the LSTM: no dropout
                bos_token_id=ORACLE_START, eos_token_id=ORACLE_START))

    def _run(self, tokens: Tensor, cache: State) -> tuple[Tensor, State]:
        from transformers import DynamicCache

        past = None
        if cache is not None:
            past = DynamicCache()
            for layer, (k, v) in enumerate(cache):
                past.update(k, v, layer)
        out = self.model(input_ids=tokens, past_key_values=past, use_cache=True)
        new = tuple((layer.keys, layer.values) for layer in out.past_key_values.layers)
        return out.logits, new

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        logits, state = self._run(tokens[:, None], state)
        return logits[:, -1], state

    def select(self, state: State, index: Tensor) -> State:
        return tuple((k[index], v[index]) for k, v in state)

    def cat(self, states: list[State]) -> State:
        return tuple((torch.cat([s[i][0] for s in states]), torch.cat([s[i][1] for s in states]))
                     for i in range(len(states[0])))

    def log_probs(self, ids: Tensor, temperature: float = 1.0) -> Tensor:
        inputs = torch.cat([ids.new_full((ids.shape[0], 1), self.start_token), ids[:, :-1]], dim=1)
        hidden = self.model.transformer(input_ids=inputs).last_hidden_state
        # the (N, L, V) logits are never formed: the output projection is chunked inside
        weight, bias = tempered_projection(self.model.lm_head.weight, self.model.lm_head.bias, temperature)
        return token_logprobs(hidden, weight, bias, ids, impl=self.impl)


def build_generator(config) -> TextGenerator:
    """The generator a :class:`SeqGANConfig` asks for."""
    if config.generator == "gpt2":
        return GPT2Generator(config.vocab_size, config.max_len, config.gpt2_layers, config.gpt2_heads,
                             config.gpt2_width, config.pretrained_path)
    return LSTMGenerator(config.vocab_size, config.g_embed_dim, config.g_hidden_dim, config.g_init_std)
