import math
import random
import time
from collections import Counter

import pytest
import torch

from multigan.modalities.text.metrics import bleu, distinct_n, self_bleu, texts_to_tokens


def toks(*lines):
    return texts_to_tokens(lines)


def literal_sentence_bleu(hyp, refs, n):
    """NLTK's sentence_bleu with SmoothingFunction().method1 and uniform weights, written out
    step by step: per hypothesis n-gram, the max count over each reference separately."""
    def grams(s, k):
        return Counter(tuple(s[i:i + k]) for i in range(len(s) - k + 1))

    precisions = []
    for k in range(1, n + 1):
        counts = grams(hyp, k)
        clipped = sum(min(c, max(grams(r, k)[g] for r in refs)) for g, c in counts.items())
        precisions.append((clipped, max(1, sum(counts.values()))))   # NLTK keeps it unreduced
    if precisions[0][0] == 0:
        return 0.0
    closest = min((len(r) for r in refs), key=lambda r: (abs(r - len(hyp)), r))
    bp = 1.0 if len(hyp) > closest else math.exp(1 - closest / len(hyp))
    smoothed = [(num or 0.1) / den for num, den in precisions]
    return bp * math.exp(math.fsum(math.log(p) / n for p in smoothed))


def random_corpus(rng, size, vocab=6, lengths=(0, 9)):
    return [[rng.randrange(vocab) for _ in range(rng.randint(*lengths))] for _ in range(size)]


# ---------------------------------------------------------------- BLEU by hand

def test_identical_sentence_scores_one():
    s = toks("the cat sat on the mat")
    for n in (1, 2, 3, 4, 5):
        assert bleu(s, s, n) == pytest.approx(1.0)


def test_brevity_penalty_against_the_closest_reference():
    hyp = toks("the cat sat")
    refs = toks("the cat sat on the mat", "the cat sat on a mat today")
    # every n-gram matches; closest reference length 6: bp = exp(1 - 6/3)
    assert bleu(hyp, refs, 2) == pytest.approx(math.exp(1 - 6 / 3))


def test_closest_reference_length_ties_go_to_the_shorter():
    # lengths 3 and 5 are both 1 away from 4: the shorter (3) gives no penalty
    assert bleu(toks("a b c d"), toks("a b c", "a b c d e"), 1) == pytest.approx(1.0)
    # only the longer one: penalty exp(1 - 5/4)
    assert bleu(toks("a b c d"), toks("a b c d e"), 1) == pytest.approx(math.exp(1 - 5 / 4))


def test_orders_without_matches_count_epsilon_matches():
    # unigrams 4/4; no bigram (0 of 3) or trigram (0 of 2) matches: 0.1/3 and 0.1/2
    expected = math.exp((math.log(1.0) + math.log(0.1 / 3) + math.log(0.1 / 2)) / 3)
    assert bleu(toks("a b c d"), toks("a c b d"), 3) == pytest.approx(expected)
    # a hypothesis shorter than the order: no trigram at all counts 0.1 of 1
    assert bleu(toks("a b"), toks("a b"), 3) == pytest.approx(0.1 ** (1 / 3))


def test_no_unigram_match_scores_zero():
    assert bleu(toks("x y z"), toks("a b c"), 2) == 0.0
    assert bleu([[]], toks("a b c"), 2) == 0.0


def test_counts_are_clipped_by_the_largest_count_in_one_reference():
    assert bleu(toks("the the the"), toks("the cat"), 1) == pytest.approx(1 / 3)
    assert bleu(toks("the the the"), toks("the cat"), 2) == pytest.approx(
        math.exp((math.log(1 / 3) + math.log(0.1 / 2)) / 2))
    # max over references (2 in the second), not their sum (3)
    assert bleu(toks("the the the"), toks("the cat", "the the dog"), 1) == pytest.approx(2 / 3)


def test_bleu_is_the_mean_over_hypotheses():
    refs = toks("the cat sat on the mat")
    hyps = toks("the cat sat on the mat", "the the the")
    # "the the the": 2 of 3 unigrams match ("the" is twice in the reference), bp exp(1 - 6/3)
    assert bleu(hyps, refs, 1) == pytest.approx((1.0 + (2 / 3) * math.exp(1 - 6 / 3)) / 2)


def test_bleu_matches_a_literal_implementation_on_random_data():
    rng = random.Random(0)
    for trial in range(20):
        hyps, refs = random_corpus(rng, 8), random_corpus(rng, rng.randint(1, 6))
        n = rng.randint(1, 5)
        expected = sum(literal_sentence_bleu(h, refs, n) for h in hyps) / len(hyps)
        assert bleu(hyps, refs, n) == pytest.approx(expected, rel=1e-12, abs=1e-15), trial


def test_token_types_and_tensors():
    words = toks("b a c a", "a c")
    ids = [[{"a": 1, "b": 2, "c": 3}[w] for w in s] for s in words]
    assert bleu(ids[:1], ids[1:], 2) == pytest.approx(bleu(words[:1], words[1:], 2))
    assert bleu(torch.tensor(ids[:1]), [torch.tensor(ids[1])], 2) == pytest.approx(bleu(ids[:1], ids[1:], 2))
    with pytest.raises(ValueError, match="texts_to_tokens"):
        bleu(["the cat"], ["the cat"], 2)
    with pytest.raises(ValueError):
        bleu(words, [], 2)
    with pytest.raises(ValueError):
        bleu(words, words, 0)


def test_bleu_is_fast_on_a_thousand_by_two_thousand():
    rng = random.Random(1)
    hyps, refs = random_corpus(rng, 1000, vocab=200, lengths=(15, 20)), random_corpus(rng, 2000, vocab=200, lengths=(15, 20))
    start = time.perf_counter()
    score = bleu(hyps, refs, 5)
    assert time.perf_counter() - start < 10
    assert 0 < score < 1


# ---------------------------------------------------------------- self-BLEU

def brute_self_bleu(samples, n):
    return sum(bleu([s], samples[:i] + samples[i + 1:], n) for i, s in enumerate(samples)) / len(samples)


@pytest.mark.parametrize("seed", range(6))
def test_self_bleu_matches_leaving_each_sample_out(seed):
    rng = random.Random(seed)
    samples = random_corpus(rng, rng.randint(2, 25), vocab=rng.choice([3, 5, 8]), lengths=(0, 8))
    samples += [list(s) for s in rng.sample(samples, min(3, len(samples)))]   # duplicates
    rng.shuffle(samples)
    for n in (1, 2, 3, 4):
        assert self_bleu(samples, n) == pytest.approx(brute_self_bleu(samples, n), rel=1e-12, abs=1e-15)


def test_self_bleu_excludes_only_the_sample_itself():
    a, b = toks("the cat sat on the mat")[0], toks("a dog ran far away")[0]
    assert self_bleu([a, a], 3) == pytest.approx(1.0)    # each one's twin is still a reference
    assert self_bleu([a, b], 3) == 0.0                    # no unigram in common
    assert self_bleu([a, a, b], 3) == pytest.approx(2 / 3)
    # a sample's own length is left out of the closest-length choice: the other is length 3
    assert self_bleu(toks("x y", "x y z"), 1) == pytest.approx((math.exp(1 - 3 / 2) + 2 / 3) / 2)
    with pytest.raises(ValueError):
        self_bleu([a], 3)


# ---------------------------------------------------------------- distinct-n

def test_distinct_n():
    assert distinct_n(toks("a b a b"), 2) == pytest.approx(2 / 3)     # ab, ba, ab
    assert distinct_n(toks("a b a b"), 1) == pytest.approx(2 / 4)
    assert distinct_n(toks("a b", "a b c"), 2) == pytest.approx(2 / 3)  # ab | ab, bc
    assert distinct_n(toks("a", "b"), 2) == 0.0
    assert distinct_n([], 2) == 0.0


def test_texts_to_tokens_splits_on_whitespace():
    assert texts_to_tokens(["  the  cat\tsat ", ""]) == [["the", "cat", "sat"], []]


# ---------------------------------------------------------------- evaluation: temperature and references

def _oracle_entropy(n: int = 500, seed: int = 12345) -> float:
    """The oracle's entropy per token, estimated as the mean exact entropy of its next-token
    distributions along n of its own samples (independent of nll_oracle's draws)."""
    from multigan.modalities.text.data import ORACLE_START, oracle_model
    from multigan.modalities.text.metrics import OracleReference

    model = oracle_model()
    ids = OracleReference().sample(n, seed=seed)
    with torch.no_grad():
        logits, _ = model(model.shifted_inputs(ids, ORACLE_START))
        logp = logits.log_softmax(-1)
        return float(-(logp.exp() * logp).sum(-1).double().mean())


def test_a_sharper_oracle_wins_nll_oracle_and_loses_nll_test():
    """Why the two are reported together: the oracle itself, sampled below temperature 1, scores
    below its own entropy on NLL-oracle, and pays on NLL-test; above 1, both rise."""
    from multigan.modalities.text.metrics import OracleReference, oracle_scores

    oracle = OracleReference()
    cold, true, hot = (oracle_scores(oracle, 300, 0, t) for t in (0.8, 1.0, 1.25))
    assert [s["temperature"] for s in (cold, true, hot)] == [0.8, 1.0, 1.25]
    entropy = _oracle_entropy()
    assert abs(true["nll_oracle"] - entropy) < 0.1 and abs(true["nll_test"] - entropy) < 0.1, (true, entropy)
    assert cold["nll_oracle"] < entropy - 0.5, cold          # "better" than the truth itself...
    assert cold["nll_test"] > true["nll_test"] + 0.05, (cold, true)   # ...by covering less of it
    assert hot["nll_oracle"] > entropy + 0.5 and hot["nll_test"] > true["nll_test"] + 0.05, (hot, true)


def test_oracle_evaluation_has_the_oracle_and_an_untrained_model_as_references():
    import multigan
    from multigan.modalities.text.metrics import evaluate_text

    torch.manual_seed(0)
    gan = multigan.build("seqgan", d_filter_sizes=(1, 2), d_num_filters=(4, 4))
    result = evaluate_text(gan, "oracle", 200, 0, temperature=0.9)
    assert list(result) == ["nll_oracle", "nll_test", "temperature", "n_samples", "references"]
    assert result["temperature"] == 0.9 and result["n_samples"] == 200
    oracle, untrained = result["references"]["oracle"], result["references"]["untrained"]
    assert set(oracle) == set(untrained) == {"nll_oracle", "nll_test", "temperature", "n_samples"}
    # the oracle is scored as the true distribution (T = 1) whatever T the model is scored at
    assert oracle["temperature"] == 1.0 and untrained["temperature"] == 0.9
    assert abs(oracle["nll_oracle"] - _oracle_entropy()) < 0.1, oracle
    assert oracle["nll_oracle"] < untrained["nll_oracle"] - 3 and oracle["nll_test"] < untrained["nll_test"] - 2
    # an untrained G is a fresh one of the same config: as far from the oracle as this one
    assert abs(untrained["nll_oracle"] - result["nll_oracle"]) < 0.5


@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), True, "0.8", None])
def test_a_temperature_must_be_a_finite_positive_number(bad):
    import multigan
    from multigan.modalities.text.metrics import evaluate_text, oracle_scores, OracleReference

    gan = multigan.build("seqgan", vocab_size=20, max_len=4, d_filter_sizes=(1, 2), d_num_filters=(4, 4))
    for call in (lambda: gan.sample(3, seed=0, temperature=bad),
                 lambda: evaluate_text(gan, "oracle", 10, 0, temperature=bad),
                 lambda: oracle_scores(OracleReference(), 10, 0, bad)):
        with pytest.raises(multigan.ConfigError, match="temperature must be a finite number > 0") as error:
            call()
        assert "\n" not in str(error.value)
