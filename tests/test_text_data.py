import math
import pickle
import random

import pytest
import torch

from multigan.errors import ConfigError, DataError
from multigan.modalities.text import data as text_data
from multigan.modalities.text import tokenizer as text_tokenizer
from multigan.modalities.text.data import (ORACLE_START, SEQ_LEN, Oracle, TextCorpus, load_text_path, oracle,
                                           oracle_model, text_lines)
from multigan.modalities.text.io import write_text_samples
from multigan.modalities.text.lm import LSTMLanguageModel
from multigan.modalities.text.tokenizer import BOS, EOS, PAD, UNK, Tokenizer, train_tokenizer

SUBJECTS = "the cat|a dog|my neighbour|the old man|a small bird|her brother|the teacher".split("|")
VERBS = "sees|likes|follows|draws|finds|calls|hears|paints".split("|")
OBJECTS = "the river|a red house|the garden|an apple|the moon|a long road|the city".split("|")
ENDINGS = ["", " today", " at night", " again", " in the rain", " every morning"]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
            for _ in range(n)]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty multigan cache for this test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTIGAN_CACHE", str(folder))
    return folder


@pytest.fixture
def corpus(tmp_path):
    """A text file of 300 sentences with blank lines scattered in."""
    lines = sentences(300)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(line + ("\n\n" if i % 7 == 3 else "\n") for i, line in enumerate(lines)), encoding="utf-8")
    return path, lines


# ---------------------------------------------------------------- the language model

def test_log_probs_match_the_lstm_equations_step_by_step():
    torch.manual_seed(1)
    lm = LSTMLanguageModel(11, embed_dim=4, hidden_dim=5)
    ids = torch.randint(11, (3, 6))
    start = 7
    W_ih, W_hh = lm.lstm.weight_ih_l0, lm.lstm.weight_hh_l0
    b = lm.lstm.bias_ih_l0 + lm.lstm.bias_hh_l0
    h, c = torch.zeros(3, 5), torch.zeros(3, 5)
    token, expected = torch.full((3,), start), []
    for t in range(ids.shape[1]):
        gates = lm.embedding.weight[token] @ W_ih.T + h @ W_hh.T + b
        i, f, g, o = gates.chunk(4, dim=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        logits = h @ lm.head.weight.T + lm.head.bias
        expected.append(logits.log_softmax(dim=1)[torch.arange(3), ids[:, t]])
        token = ids[:, t]
    got = lm.log_probs(ids, start)
    assert got.shape == (3, 6) and got.dtype == torch.float32
    torch.testing.assert_close(got, torch.stack(expected, dim=1), rtol=1e-5, atol=1e-5)
    assert torch.equal(lm.shifted_inputs(ids, start), torch.cat([torch.full((3, 1), start), ids[:, :-1]], 1))
    logits, (h_n, c_n) = lm(ids)
    assert logits.shape == (3, 6, 11) and h_n.shape == c_n.shape == (1, 3, 5)


def test_sample_is_deterministic_and_follows_the_model():
    torch.manual_seed(2)
    lm = LSTMLanguageModel(7, embed_dim=3, hidden_dim=4)
    a = lm.sample(5, 9, 0, torch.Generator().manual_seed(3))
    b = lm.sample(5, 9, 0, torch.Generator().manual_seed(3))
    assert a.shape == (5, 9) and a.dtype == torch.long and torch.equal(a, b)
    assert not torch.equal(a, lm.sample(5, 9, 0, torch.Generator().manual_seed(4)))
    # the first token's frequencies over many draws are the model's probabilities
    first = lm.sample(40_000, 1, 0, torch.Generator().manual_seed(5))[:, 0]
    probs = lm(torch.zeros(1, 1, dtype=torch.long))[0][0, 0].softmax(0)
    torch.testing.assert_close(torch.bincount(first, minlength=7) / 40_000., probs, rtol=0, atol=0.01)
    # a near-zero temperature is greedy decoding
    greedy, token, state = [], torch.zeros(2, 1, dtype=torch.long), None
    for _ in range(6):
        logits, state = lm(token, state)
        token = logits[:, -1].argmax(dim=1, keepdim=True)
        greedy.append(token)
    assert torch.equal(lm.sample(2, 6, 0, torch.Generator().manual_seed(0), temperature=1e-4), torch.cat(greedy, 1))


def test_sample_never_draws_a_zero_probability_token():
    torch.manual_seed(3)
    lm = LSTMLanguageModel(6, embed_dim=3, hidden_dim=3)
    with torch.no_grad():
        lm.head.bias[[0, 5]] = -1e4   # exp underflows to exactly 0: the first and last tokens
    ids = lm.sample(5_000, 3, 1, torch.Generator().manual_seed(0))
    assert set(ids.unique().tolist()) == {1, 2, 3, 4}


# ---------------------------------------------------------------- the oracle

def test_oracle_is_built_from_standard_normal_draws_deterministically():
    state = torch.get_rng_state()
    a, b, other = Oracle(0), Oracle(0), Oracle(1)
    assert torch.equal(torch.get_rng_state(), state), "building the oracle must not touch the global RNG"
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), other.parameters()):
        assert torch.equal(p, q), name
        assert not p.requires_grad
        if name == "lstm.bias_hh_l0":  # one bias per gate, as the paper's oracle: the second is zero
            assert torch.all(p == 0)
        else:
            assert not torch.equal(p, r), name
    assert not a.training and a.vocab_size == 5000
    assert a.embedding.weight.shape == (5000, 32) and a.lstm.hidden_size == 32
    # the first parameter is the first draw of the seeded generator
    assert torch.equal(a.embedding.weight, torch.randn(5000, 32, generator=torch.Generator().manual_seed(0)))
    values = torch.cat([p.flatten() for name, p in a.named_parameters() if name != "lstm.bias_hh_l0"])
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01
    assert oracle_model(0) is oracle_model(0)


def test_oracle_data_splits_are_deterministic_held_out_streams(cache):
    train, test = oracle("train", size=300), oracle("test", size=300)
    assert len(train) == 300 and train[0].shape == (SEQ_LEN,) and train[0].dtype == torch.long
    assert train.source == "oracle (train)" and train.oracle is oracle_model(0)
    assert int(train.ids.min()) >= 0 and int(train.ids.max()) < 5000
    rows = lambda d: {tuple(r) for r in d.ids.tolist()}   # noqa: E731
    assert not rows(train) & rows(test)
    assert not rows(train) & rows(oracle("train", size=300, seed=1))
    # a smaller dataset is a prefix of a larger one, and a second call (from the cache) is the same
    assert torch.equal(oracle("train", size=120).ids, train.ids[:120])
    assert len(list(cache.glob("oracle-*.pt"))) == 3
    assert torch.equal(oracle("train", size=300).ids, train.ids)
    # drawn again without the cache: the same
    for f in cache.glob("oracle-*.pt"):
        f.write_bytes(b"damaged")
    assert torch.equal(oracle("train", size=300).ids, train.ids)
    assert len(oracle("test")) == 2000 and text_data.ORACLE_SIZES == {"train": 10_000, "test": 2_000}
    with pytest.raises(ConfigError, match="valid"):
        oracle("valid")
    with pytest.raises(ConfigError, match="size"):
        oracle(size=0)


def test_oracle_nll_of_its_own_samples_is_below_uniform():
    model = oracle_model(0)
    samples = model.sample(200, SEQ_LEN, ORACLE_START, torch.Generator().manual_seed(9))
    nll = model.nll(samples)
    assert math.isfinite(nll)
    assert 3.0 < nll < math.log(5000) - 1
    uniform = torch.randint(5000, (200, SEQ_LEN), generator=torch.Generator().manual_seed(0))
    assert model.nll(uniform) > math.log(5000)
    expected = -model.log_probs(samples, ORACLE_START).double().mean().item()
    assert nll == pytest.approx(expected, rel=1e-6)
    with pytest.raises(DataError, match="5000"):
        model.nll(torch.full((2, SEQ_LEN), 5000))


# ---------------------------------------------------------------- tokenizer

def test_tokenizer_round_trip_exact_size_and_special_ids(cache):
    lines = sentences(300)
    for model_type in ("unigram", "bpe"):
        tok = train_tokenizer(lines, 60, model_type)
        assert tok.vocab_size == 60
        assert (tok.pad_id, tok.bos_id, tok.eos_id) == (PAD, BOS, EOS) == (0, 1, 2)
        assert [tok.sp.id_to_piece(i) for i in range(4)] == ["<pad>", "<s>", "</s>", "<unk>"] and UNK == 3
        for line in lines[:50]:
            ids = tok.encode(line)
            assert ids and min(ids) > UNK and tok.decode(ids) == line
        assert tok.encode_batch(lines[:3]) == [tok.encode(s) for s in lines[:3]]


def test_decode_stops_at_eos_and_skips_pad_and_bos(cache):
    tok = train_tokenizer(sentences(300), 60)
    a, b = tok.encode("the cat sees the moon"), tok.encode("a dog")
    assert tok.decode([BOS] + a + [EOS] + b + [PAD]) == "the cat sees the moon"
    assert tok.decode(torch.tensor([BOS, PAD] + a[:2] + [PAD] + a[2:] + [PAD, PAD])) == "the cat sees the moon"
    assert tok.decode([EOS] + a) == ""
    rows = torch.tensor([a + [EOS] + [PAD] * 3, b + [EOS] + [PAD] * (len(a) + 3 - len(b))])
    assert tok.decode_batch(rows) == ["the cat sees the moon", "a dog"]


def test_tokenizer_bytes_files_and_pickles(cache, tmp_path):
    tok = train_tokenizer(sentences(300), 60)
    line = "her brother paints the garden"
    again = Tokenizer.from_bytes(tok.to_bytes())
    assert again.to_bytes() == tok.to_bytes() and again.encode(line) == tok.encode(line)
    path = tok.save(tmp_path / "sub" / "tok.model")
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    assert Tokenizer.load(path).encode(line) == tok.encode(line)
    assert pickle.loads(pickle.dumps(tok)).encode(line) == tok.encode(line)
    with pytest.raises(DataError, match="missing.model"):
        Tokenizer.load(tmp_path / "missing.model")
    with pytest.raises(DataError, match="sentencepiece"):
        Tokenizer.from_bytes(b"not a model")


def test_tokenizer_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    lines = sentences(300)
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path / "a"))
    first = train_tokenizer(lines, 60)
    files = list((tmp_path / "a").glob("tokenizer-*.model"))
    assert len(files) == 1
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path / "b"))
    assert train_tokenizer(lines, 60).to_bytes() == first.to_bytes()   # trained again: the same
    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path / "a"))

    def no_training(*args):
        raise AssertionError("trained although cached")
    with monkeypatch.context() as m:
        m.setattr(text_tokenizer, "_train", no_training)
        assert train_tokenizer(lines, 60).to_bytes() == first.to_bytes()
        with pytest.raises(AssertionError):   # another size, type or corpus is another key
            train_tokenizer(lines, 61)
        with pytest.raises(AssertionError):
            train_tokenizer(lines, 60, "bpe")
        with pytest.raises(AssertionError):
            train_tokenizer(lines[1:], 60)
    files[0].write_bytes(b"damaged")
    assert train_tokenizer(lines, 60).to_bytes() == first.to_bytes()
    assert files[0].read_bytes() == first.to_bytes()


def test_tokenizer_errors_name_the_problem_and_the_fix(cache):
    lines = sentences(300)
    with pytest.raises(DataError, match="vocab_size") as info:
        train_tokenizer(lines, 5000, source="text data 'tiny.txt'")
    message = str(info.value)
    assert "tiny.txt" in message and "5000" in message
    largest = int(message.split("--set vocab_size=")[1].split()[0])
    assert 60 < largest < 5000
    assert train_tokenizer(lines, largest).vocab_size == largest   # the size it suggests works
    with pytest.raises(ConfigError, match="vocab_size=10 .*--set vocab_size="):
        train_tokenizer(lines, 10)
    with pytest.raises(ConfigError, match="model_type 'word'"):
        train_tokenizer(lines, 60, "word")
    with pytest.raises(DataError, match="no lines"):
        train_tokenizer([], 60)


# ---------------------------------------------------------------- text files

def test_text_lines_split_every_tenth_non_blank_line(corpus):
    path, lines = corpus
    train, test = text_lines(path)
    assert test == lines[9::10] and len(train) + len(test) == 300
    assert train == [s for i, s in enumerate(lines) if i % 10 != 9]


def test_text_lines_of_a_folder_reads_its_txt_files_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("third\nfourth\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("\ufefffirst\r\nsecond", encoding="utf-8")   # BOM, CRLF, no final newline
    (tmp_path / "c.md").write_text("not text data\n", encoding="utf-8")
    assert text_lines(tmp_path) == (["first", "second", "third", "fourth"], [])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty.*no .txt files"):
        text_lines(empty)


def test_text_lines_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="nowhere.txt"):
        text_lines(tmp_path / "nowhere.txt")
    for name, content in (("empty.txt", b""), ("blank.txt", b"\n  \n\t\n")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=f"{name}.*no text"):
            text_lines(tmp_path / name)
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9\n".encode("utf-8") + b"na\xefve\n")
    with pytest.raises(DataError, match=r"latin1\.txt.*byte offset 8\b"):
        text_lines(tmp_path / "latin1.txt")


def test_text_corpus_items_padding_truncation_and_splits(corpus, cache):
    path, lines = corpus
    tok = train_tokenizer(text_lines(path)[0], 60)
    max_len = 18   # some lines are longer (cut), most shorter (padded)
    for split, expected_lines in (("train", text_lines(path)[0]), ("test", lines[9::10])):
        data = TextCorpus(path, tok, max_len, split)
        assert data.lines == expected_lines and len(data) == len(expected_lines)
        assert data.tokenizer is tok and str(path) in data.source and split in data.source
        padded = cut = 0
        for i, line in enumerate(data.lines):
            tokens = tok.encode(line)
            item = data[i]
            assert item.shape == (max_len,) and item.dtype == torch.long
            if len(tokens) < max_len:
                padded += 1
                assert item.tolist() == tokens + [EOS] + [PAD] * (max_len - len(tokens) - 1)
                assert tok.decode(item) == line
            else:
                cut += 1
                assert item.tolist() == tokens[:max_len] and EOS not in item.tolist()
        assert padded and cut, "the corpus must exercise both padding and truncation"
    with pytest.raises(ConfigError, match="max_len"):
        TextCorpus(path, tok, 0)
    with pytest.raises(ConfigError, match="split"):
        TextCorpus(path, tok, 9, "valid")
    short = path.with_name("short.txt")
    short.write_text("one line\nanother\n", encoding="utf-8")
    with pytest.raises(DataError, match="short.txt.*add lines"):
        TextCorpus(short, tok, 9, "test")


def test_load_text_path_trains_the_tokenizer_on_training_lines_only(corpus, cache):
    path, lines = corpus
    test = load_text_path(path, 60, 12, "test", model_type="bpe")
    train = load_text_path(path, 60, 12, "train", model_type="bpe")
    assert train.tokenizer.to_bytes() == test.tokenizer.to_bytes()
    assert train.tokenizer.to_bytes() == train_tokenizer(text_lines(path)[0], 60, "bpe").to_bytes()
    assert train.tokenizer.to_bytes() != train_tokenizer(lines, 60, "bpe").to_bytes()
    assert test.lines == lines[9::10] and train.ids.shape == (270, 12)
    assert len(list(cache.glob("tokenizer-*.model"))) == 2
    with pytest.raises(DataError, match="corpus.txt.*vocab_size"):
        load_text_path(path, 5000, 12, "train")


# ---------------------------------------------------------------- writing samples

def test_write_text_samples(tmp_path):
    written = write_text_samples(["the cat", "two\nlines\r\nhere", "caf\u00e9 \u2603", ""], tmp_path / "out" / "step-100")
    assert written == [tmp_path / "out" / "step-100.txt"]
    assert written[0].read_bytes().decode("utf-8") == "the cat\ntwo lines here\ncaf\u00e9 \u2603\n\n"
    assert write_text_samples(["x"], tmp_path / "s.txt") == [tmp_path / "s.txt"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "s.txt", "step-100.txt"]
