"""Text quality metrics on token sequences: BLEU and self-BLEU as Texygen computes them, and
distinct-n; and the text modality's ``evaluate`` (:func:`evaluate_text`): NLL-oracle and
NLL-test on the oracle, BLEU, self-BLEU, distinct-2 and NLL-test on a corpus, at a sampling
temperature, beside reference points (see docs/evaluation.md).

A sequence is a list of hashable tokens (ints or strings; a tensor row works too): strip
padding and whatever follows EOS first, and split text into words with :func:`texts_to_tokens`.

Texygen's BLEU-n scores each hypothesis with NLTK's sentence BLEU against every reference and
averages: modified n-gram precisions for orders 1..n (each n-gram's count clipped by its largest
count in any one reference), weights 1/n, a brevity penalty against the closest reference length
(ties to the shorter), and NLTK's smoothing method 1 (an order with no match counts 0.1 matches).
A hypothesis with no unigram match scores 0. Here the clipping counts are gathered once over all
references instead of once per hypothesis, which gives the same numbers thousands of times faster.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from typing import Hashable, Sequence

import torch

EPSILON = 0.1  # NLTK SmoothingFunction().method1: the numerator of a precision with no matches

Tokens = Sequence[Hashable]


def texts_to_tokens(lines: Sequence[str]) -> list[list[str]]:
    """Each line split on whitespace."""
    return [line.split() for line in lines]


def _as_lists(sequences: Sequence[Tokens], what: str) -> list[list[Hashable]]:
    out = []
    for s in sequences:
        if isinstance(s, str):  # would be scored character by character
            raise ValueError(f"{what} must be token sequences, got the string {s[:40]!r}; "
                             "split text into words with texts_to_tokens")
        out.append(s.tolist() if hasattr(s, "tolist") else list(s))
    return out


def _ngram_counts(tokens: list[Hashable], k: int) -> Counter:
    return Counter(zip(*(tokens[j:] for j in range(k))))


def _closest_length(lengths: list[int], hyp_len: int, skip: int | None = None) -> int:
    """The length in sorted distinct ``lengths`` (other than ``skip``) closest to ``hyp_len``,
    the shorter on a tie."""
    pos = bisect.bisect_left(lengths, hyp_len)
    candidates = [length for length in lengths[max(pos - 1, 0):pos + 2] if length != skip]
    return min(candidates, key=lambda length: (abs(length - hyp_len), length))


def _sentence_bleu(hyp_len: int, matches: list[int], ref_len: int) -> float:
    """NLTK's smoothed sentence BLEU from the clipped matches of each order 1..n."""
    if matches[0] == 0:
        return 0.0
    n = len(matches)
    log_precision = sum(math.log((m or EPSILON) / max(1, hyp_len - k)) for k, m in enumerate(matches)) / n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(log_precision)


def _check_order(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"BLEU order n={n!r}: must be a positive integer")


def bleu(hypotheses: Sequence[Tokens], references: Sequence[Tokens], n: int) -> float:
    """Texygen's BLEU-n (see the module docstring): the mean over ``hypotheses`` of each one's
    smoothed sentence BLEU against all ``references``."""
    _check_order(n)
    hypotheses, references = _as_lists(hypotheses, "hypotheses"), _as_lists(references, "references")
    if not hypotheses or not references:
        raise ValueError(f"BLEU needs hypotheses and references, got {len(hypotheses)} and {len(references)}")
    max_counts = []
    for k in range(1, n + 1):
        best: dict[tuple, int] = {}
        for ref in references:
            for gram, count in _ngram_counts(ref, k).items():
                if count > best.get(gram, 0):
                    best[gram] = count
        max_counts.append(best)
    lengths = sorted({len(ref) for ref in references})
    total = 0.0
    for hyp in hypotheses:
        matches = [sum(min(c, best.get(gram, 0)) for gram, c in _ngram_counts(hyp, k).items())
                   for k, best in enumerate(max_counts, start=1)]
        total += _sentence_bleu(len(hyp), matches, _closest_length(lengths, len(hyp)))
    return total / len(hypotheses)


def self_bleu(samples: Sequence[Tokens], n: int = 3) -> float:
    """Self-BLEU-n: the mean over samples of each one's BLEU-n (as in :func:`bleu`) against all
    the other samples. Only the sample itself is left out: an identical sample elsewhere still
    counts. Higher means less diverse.

    For each n-gram the two largest counts (and which sample holds the largest) are kept, so
    the clipping count without sample ``i`` is found in constant time.
    """
    _check_order(n)
    samples = _as_lists(samples, "samples")
    if len(samples) < 2:
        raise ValueError(f"self-BLEU needs at least two samples, got {len(samples)}")
    counts = [[_ngram_counts(s, k) for k in range(1, n + 1)] for s in samples]
    tops: list[dict[tuple, list[int]]] = [{} for _ in range(n)]   # gram -> [largest, its owner, second]
    for i, per_order in enumerate(counts):
        for top, grams in zip(tops, per_order):
            for gram, c in grams.items():
                t = top.get(gram)
                if t is None:
                    top[gram] = [c, i, 0]
                elif c > t[0]:
                    top[gram] = [c, i, t[0]]
                elif c > t[2]:
                    t[2] = c
    length_counts = Counter(len(s) for s in samples)
    lengths = sorted(length_counts)
    total = 0.0
    for i, (s, per_order) in enumerate(zip(samples, counts)):
        matches = []
        for top, grams in zip(tops, per_order):
            matched = 0
            for gram, c in grams.items():
                largest, owner, second = top[gram]
                matched += min(c, second if owner == i else largest)
            matches.append(matched)
        skip = len(s) if length_counts[len(s)] == 1 else None   # its own length, unless another has it
        total += _sentence_bleu(len(s), matches, _closest_length(lengths, len(s), skip))
    return total / len(samples)


def distinct_n(samples: Sequence[Tokens], n: int = 2) -> float:
    """Distinct-n: distinct n-grams over all n-grams in ``samples`` (0.0 when there are none)."""
    _check_order(n)
    seen: set[tuple] = set()
    total = 0
    for s in _as_lists(samples, "samples"):
        grams = list(zip(*(s[j:] for j in range(n))))
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else 0.0


# ---------------------------------------------------------------------- a trained text GAN's metrics
DEFAULT_SAMPLES = {"oracle": 10_000, "text": 1_000}
SAMPLE_CHUNK = 1_000
BLEU_ORDERS = (2, 3, 4, 5)


class OracleReference:
    """The oracle as a model to score beside a GAN: ``sample(n, seed=, temperature=)`` and
    ``nll(ids, temperature=)``, as a :class:`TextGAN` has them. At temperature 1 it is the true
    distribution of the oracle data: its ``nll_oracle`` estimates the oracle's entropy per
    token and its ``nll_test`` is the oracle's NLL of its own held-out sequences, the floor of
    both metrics for a model that matches the data (a sharper sampler goes below the first only
    by going above the second). Draws are the reference implementation's (``impl="ref"``) on
    the CPU, from a CPU generator seeded with ``seed``, as the oracle data are."""

    name = "oracle"

    def __init__(self, seed: int = 0):
        from .data import oracle_model

        self.model = oracle_model(seed)

    def sample(self, n: int, *, seed: int, temperature: float = 1.0) -> torch.Tensor:
        from .data import ORACLE_START, SEQ_LEN

        return self.model.sample(n, SEQ_LEN, ORACLE_START, torch.Generator().manual_seed(seed), temperature,
                                 impl="ref")

    def nll(self, ids: torch.Tensor, temperature: float = 1.0) -> float:
        return self.model.nll(ids, temperature)


def _check_temperature(model, temperature) -> float:
    """A TextGAN checks its own (its family may not take one); the oracle takes any finite T > 0."""
    from .contract import check_temperature

    return model.check_temperature(temperature) if hasattr(model, "check_temperature") \
        else check_temperature(temperature)


def _tempered(temperature: float) -> dict:
    """The keyword for ``sample`` / ``nll``: none at 1 (a family without a temperature argument
    still runs), else ``temperature``."""
    return {} if temperature == 1.0 else {"temperature": temperature}


def _samples(model, n: int, seed: int, temperature: float) -> torch.Tensor:
    from ...metrics import sample_in_chunks

    return torch.cat(sample_in_chunks(model, n, seed, SAMPLE_CHUNK, **_tempered(temperature))).cpu()


def oracle_scores(model, n_samples: int = DEFAULT_SAMPLES["oracle"], seed: int = 0,
                  temperature: float = 1.0) -> dict[str, float]:
    """``model`` (a :class:`TextGAN` of the oracle's shape, or :class:`OracleReference`) on the
    oracle, sampled and scored at ``temperature``: ``nll_oracle``, the oracle's (untempered)
    per-token NLL of ``n_samples`` samples of the model (quality: how likely the truth finds
    them); ``nll_test``, the model's per-token NLL of the 2,000 held-out oracle sequences under
    its tempered distribution ``softmax(logits / T)`` (coverage: how likely the model finds
    the truth's sequences). Lowering T lowers the first and raises the second, so they are
    reported together, with ``temperature`` and ``n_samples``."""
    from ...metrics import one_thread
    from .data import oracle, oracle_model

    temperature = _check_temperature(model, temperature)
    with one_thread():
        samples = _samples(model, n_samples, seed, temperature)
        return {"nll_oracle": oracle_model().nll(samples),
                "nll_test": model.nll(oracle("test").ids, **_tempered(temperature)),
                "temperature": temperature, "n_samples": n_samples}


def _bleu_scores(hypotheses: list[list[str]], references: list[list[str]]) -> dict[str, float]:
    metrics = {f"bleu{k}": bleu(hypotheses, references, k) for k in BLEU_ORDERS}
    metrics.update(self_bleu3=self_bleu(hypotheses, 3), distinct2=distinct_n(hypotheses, 2))
    return metrics


class TrainingLines:
    """A corpus's own training lines as a reference "model": ``n`` of them (all when there are
    fewer), chosen by ``seed``, each tokenised, cut to ``max_len`` and decoded exactly as a
    model's samples are. Scored against the held-out lines, they show what BLEU, self-BLEU and
    distinct-2 a model whose samples were real sentences of the corpus would get (it has no
    likelihood, so no ``nll_test``)."""

    name = "train_lines"

    def __init__(self, data: str, gan):
        self.data, self.gan = data, gan

    def lines(self, n: int, seed: int) -> list[str]:
        from .data import encode_lines, text_lines

        train, _ = text_lines(self.data)
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return self.gan.decode(encode_lines([train[i] for i in pick], self.gan.tokenizer, self.gan.max_len))


def evaluate_text(gan, data: str | None, n_samples: int | None = None, seed: int = 0, *,
                  temperature: float = 1.0) -> dict:
    """A :class:`TextGAN`'s quality metrics (``multigan eval``), through its contract only, with
    its samples drawn (and its ``nll_test`` computed) at ``temperature``: ``softmax(logits / T)``.

    On the oracle (``data`` None or ``"oracle"``): :func:`oracle_scores` (``nll_oracle`` of
    ``n_samples``, default 10,000, samples and ``nll_test``, always together), with under
    ``"references"`` the same metrics of ``oracle``, the oracle itself at temperature 1 (the
    true distribution: whatever T the model is scored at, this is the point to reach) and of
    ``untrained``, a fresh G of the same family and config at the model's T.

    On a text corpus: ``bleu2`` ... ``bleu5`` of ``n_samples`` (default 1,000) decoded samples
    against the corpus's held-out lines, words split on whitespace (:func:`bleu`);
    ``self_bleu3`` among the samples; ``distinct2``; ``nll_test`` on the held-out lines (EOS
    counted, PAD after it not), at T; with the references ``untrained`` (at T, given the
    corpus's tokenizer) and ``train_lines`` (:class:`TrainingLines`: real training sentences
    in place of samples, without ``nll_test``).
    """
    from ...errors import ConfigError
    from ...metrics import one_thread, untrained_like, with_references
    from .data import TextCorpus

    temperature = gan.check_temperature(temperature)
    on_oracle = data in (None, "oracle")
    n = DEFAULT_SAMPLES["oracle" if on_oracle else "text"] if n_samples is None else n_samples
    if on_oracle:
        def score(model) -> dict:
            return oracle_scores(model, n, seed, 1.0 if isinstance(model, OracleReference) else temperature)

        return with_references(score, gan, {"oracle": OracleReference, "untrained": lambda: untrained_like(gan)})

    tokenizer = gan.tokenizer
    if tokenizer is None:
        raise ConfigError(f"this model was trained without a tokenizer (on the oracle), so it cannot be "
                          f"scored against the text {data!r}")
    held_out = TextCorpus(data, tokenizer, gan.max_len, "test")
    references = texts_to_tokens(held_out.lines)

    def score_corpus(model) -> dict:
        with one_thread():
            if isinstance(model, TrainingLines):
                lines = model.lines(n, seed)
                return {**_bleu_scores(texts_to_tokens(lines), references), "n_samples": len(lines)}
            hypotheses = texts_to_tokens(model.decode(_samples(model, n, seed, temperature)))
            return {**_bleu_scores(hypotheses, references),
                    "nll_test": model.nll(held_out.ids, **_tempered(temperature)),
                    "temperature": temperature, "n_samples": n}

    def untrained():
        fresh = untrained_like(gan)
        fresh.tokenizer = tokenizer
        return fresh

    return with_references(score_corpus, gan, {"untrained": untrained, "train_lines": lambda: TrainingLines(data, gan)})
