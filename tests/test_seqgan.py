"""SeqGAN: the paper's defaults, the policy-gradient loss, EOS masking, vectorised rollouts
against a step-by-step reference, and short runs on the oracle and on a text file."""

import math
import random
import types

import pytest
import torch

import multigan
from multigan import Step, registry
from multigan.errors import ConfigError, DataError
from multigan.modalities.text.seqgan import SeqGAN
from multigan.modalities.text.tokenizer import Tokenizer

SMALL = dict(vocab_size=7, max_len=5, d_embed_dim=8, d_filter_sizes=(1, 2, 3), d_num_filters=(6, 6, 6),
             pretrain_g_epochs=0, pretrain_d_rounds=0, n_critic=1, rollouts=4)
EOS_TOKENIZER = types.SimpleNamespace(bos_id=1, eos_id=2, pad_id=0, vocab_size=7)


def small(**overrides) -> SeqGAN:
    return multigan.build("seqgan", **{**SMALL, **overrides})


def test_defaults_are_the_papers():
    gan = multigan.build("seqgan")
    c = gan.config
    assert (c.vocab_size, c.max_len, c.g_embed_dim, c.g_hidden_dim, c.g_init_std) == (5000, 20, 32, 32, 0.1)
    assert (c.lr_g, c.grad_clip_g, c.batch_size, c.lr_d, c.d_embed_dim) == (1e-2, 5.0, 64, 1e-4, 64)
    assert c.d_filter_sizes == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    assert c.d_num_filters == (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
    assert (c.d_dropout, c.d_l2, c.rollouts, c.ema_decay) == (0.25, 0.2, 16, 0.0)
    assert (c.pretrain_g_epochs, c.pretrain_d_rounds, c.d_rounds, c.d_epochs) == (120, 50, 5, 3)
    assert [p.name for p in gan.phases(156)] == ["mle", "d_pretrain"]
    # the reference's D epoch: 10,000 positives and 9,984 negatives in 312 batches of 64
    assert [p.steps for p in gan.phases(156)] == [120 * 156, 50 * 3 * 312]
    assert gan.critic_steps(156) == 4680
    assert gan.generator_first  # one G step, then D's epochs
    trainable = [p for p in gan.generator.parameters() if p.requires_grad]
    assert all(p.std().item() == pytest.approx(0.1, rel=0.1) for p in trainable)
    # one bias per gate, as the reference's LSTM: PyTorch's second bias is zero and frozen
    assert not gan.generator.lm.lstm.bias_hh_l0.any() and not gan.generator.lm.lstm.bias_hh_l0.requires_grad
    assert len(trainable) == len(list(gan.generator.parameters())) - 1
    x = gan.sample(3, seed=0)
    assert x.shape == (3, 20) and x.dtype == torch.long and torch.equal(x, gan.sample(3, seed=0))
    assert gan.decode(x[:1]) == [" ".join(map(str, x[0].tolist()))]


def test_config_errors_name_the_fix():
    with pytest.raises(ConfigError, match=r"d_filter_sizes \[15, 20\].*max_len 10"):
        multigan.build("seqgan", max_len=10)
    with pytest.raises(ConfigError, match="one filter count per window size"):
        multigan.build("seqgan", d_filter_sizes=(1, 2))
    with pytest.raises(ConfigError, match="rollout"):
        multigan.build("seqgan", rollout=3)
    gan = multigan.build("seqgan", vocab_size=100)
    with pytest.raises(ConfigError, match="vocab_size=5000 max_len=20"):
        multigan.Trainer(gan, out_dir="unused", progress=False).fit()


def test_bad_batches_are_named():
    gan = small()
    check = registry.get_modality("text").check_batch  # batches are checked once, by the modality
    with pytest.raises(DataError, match=r"\(N, 5\), got \(2, 4\)"):
        check(torch.zeros(2, 4, dtype=torch.long), gan)
    with pytest.raises(DataError, match="int64"):
        check(torch.zeros(2, 5), gan)
    with pytest.raises(DataError, match=r"\[0, 9\].*vocab_size is 7"):
        check(torch.tensor([[0, 1, 2, 3, 9]]), gan)


def _constant_generator(gan, probs):
    """Make G predict ``probs`` at every step, whatever it has read."""
    lm = gan.generator.lm
    with torch.no_grad():
        lm.head.weight.zero_()
        lm.head.bias.copy_(torch.tensor(probs).log())


def test_policy_gradient_loss_against_a_hand_computed_case(monkeypatch):
    gan = small(vocab_size=2, max_len=2, d_filter_sizes=(1,), d_num_filters=(4,))
    _constant_generator(gan, [0.25, 0.75])
    samples = torch.tensor([[0, 1], [1, 1]])
    rewards = torch.tensor([[0.2, 0.4], [0.6, 0.8]])
    monkeypatch.setattr(gan.generator, "sample", lambda n, length, rng=None: samples)
    monkeypatch.setattr(gan, "rewards", lambda s: rewards)
    out = gan.generator_loss(torch.zeros(2, 2, dtype=torch.long), Step())
    expected = -(math.log(0.25) * 0.2 + math.log(0.75) * 0.4 + math.log(0.75) * 0.6 + math.log(0.75) * 0.8) / 4
    assert out["loss"].item() == pytest.approx(expected, rel=1e-5)
    assert out["reward"].item() == pytest.approx((0.4 + 0.8) / 2)
    # the gradient raises the logit of the token whose reward-weighted count is larger
    out["loss"].backward()
    grad = gan.generator.lm.head.bias.grad
    assert grad[1] < 0 < grad[0]


def test_eos_masks_losses_rewards_and_samples(monkeypatch):
    gan = small()
    gan.generator.tokenizer = EOS_TOKENIZER
    ids = torch.tensor([[3, 2, 0, 0, 0], [4, 5, 6, 3, 2], [3, 4, 5, 6, 4]])
    mask = gan.generator.token_mask(ids)
    assert mask.tolist() == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]
    logp = gan.generator.log_probs(ids)
    assert gan.mle_loss(ids, Step())["loss"].item() == pytest.approx((-(logp * mask).sum() / 12).item(), rel=1e-6)
    # what lies after EOS, in the ids or in the rewards, cannot change the policy-gradient loss
    monkeypatch.setattr(gan.generator, "sample", lambda n, length, rng=None: ids)
    losses = []
    for after_eos in (0.0, 100.0):
        rewards = torch.full((3, 5), 0.5)
        rewards[0, 2:] = after_eos
        monkeypatch.setattr(gan, "rewards", lambda s, r=rewards: r)
        losses.append(gan.generator_loss(ids, Step())["loss"].item())
    assert losses[0] == pytest.approx(losses[1])
    # samples end at EOS and are padded after it, in sampling and in rollouts (G's own
    # sample again, not the fixed ids above)
    monkeypatch.undo()
    _constant_generator(gan, [0.02, 0.02, 0.5, 0.02, 0.4, 0.02, 0.02])
    x = gan.sample(200, seed=0)
    assert x.shape == (200, 5)
    assert (x == 2).any()
    after = gan.generator.token_mask(x) == 0
    assert after.any() and torch.all(x[after] == 0)
    completions = gan.generator.complete(x[:20], rollouts=3)
    for t in range(1, 5):
        assert torch.equal(completions[t - 1, :, :, :t], x[:20, :t].expand(3, -1, -1))
    flat = completions.reshape(-1, 5)
    assert torch.all(flat[gan.generator.token_mask(flat) == 0] == 0)


def _reference_rewards(gan, samples, rollouts, seed):
    """Rewards the straightforward way: for each prefix length, feed the prefix token by token
    from the start, then sample the rest one position at a time (all rollouts side by side),
    and ask D."""
    policy, gen = gan.rollout_policy, torch.Generator().manual_seed(seed)
    n, length = samples.shape
    rows = samples.repeat(rollouts, 1)
    rewards = torch.zeros(n, length)
    for t in range(1, length):
        logits, state = policy.start(len(rows))
        for k in range(t):
            logits, state = policy.step(rows[:, k], state)
        seq = rows.clone()
        for k in range(t, length):
            token = torch.multinomial(logits.softmax(dim=-1), 1, generator=gen).squeeze(1)
            seq[:, k] = token
            if k < length - 1:
                logits, state = policy.step(token, state)
        rewards[:, t - 1] = gan.real_probability(seq).view(rollouts, n).mean(dim=0)
    rewards[:, -1] = gan.real_probability(samples)
    return rewards


class _PositionalScorer(torch.nn.Module):
    """logit = sum over positions of a random score of (position, token)."""

    def __init__(self, vocab_size, length):
        super().__init__()
        self.scores = torch.nn.Parameter(3 * torch.randn(length, vocab_size))

    def forward(self, ids):
        return self.scores.gather(1, ids.T).sum(dim=0)


@pytest.mark.parametrize("generator", ["lstm", "gpt2"])
def test_vectorised_rollouts_agree_with_a_step_by_step_reference(generator):
    torch.manual_seed(3)
    gan = small(vocab_size=5, max_len=4, d_filter_sizes=(1, 2), d_num_filters=(8, 8), g_init_std=1.0,
                generator=generator, gpt2_width=16, gpt2_heads=2)
    if generator == "gpt2":  # a sharper random policy, so that prefixes matter
        with torch.no_grad():
            gan.generator.model.transformer.ln_f.weight.mul_(4)
    gan.discriminator = _PositionalScorer(vocab_size=5, length=4)  # a D whose verdict depends on every token
    samples = gan.sample(6, seed=1)
    rollouts = 20_000 if generator == "lstm" else 4_000
    fast = gan.rewards(samples, rollouts=rollouts)
    slow = _reference_rewards(gan, samples, rollouts, seed=2)
    # a variable in [0, 1] with mean m has variance at most m (1 - m): allow 5 standard errors of
    # the difference of two independent means
    m = torch.maximum(fast, slow)
    tolerance = 5 * (2 * m * (1 - m) / rollouts).sqrt()
    assert torch.all((fast - slow).abs() <= tolerance), (fast - slow).abs().max()
    assert torch.equal(fast[:, -1], slow[:, -1])
    # and the rewards do depend on the prefix (the check above is not vacuous)
    assert fast[:, :-1].max() - fast[:, :-1].min() > 3 * tolerance[:, :-1].max()


def test_rollout_policy_is_g_by_default_and_a_delayed_copy_on_request(tmp_path):
    data = torch.randint(3, 7, (64, 5))
    runs = {}
    for decay in (0.0, 0.8):
        gan = small(pretrain_g_epochs=1, ema_decay=decay)
        multigan.Trainer(gan, data=_Ids(data), out_dir=tmp_path / str(decay),
                         max_steps=1, batch_size=16, progress=False, sample_every=0).fit()
        runs[decay] = gan
        assert gan.sampling_generator is gan.generator
    assert runs[0.0].rollout_policy is runs[0.0].generator and runs[0.0].generator_ema is None
    lagged = runs[0.8]
    assert lagged.rollout_policy is lagged.generator_ema
    assert any(not torch.equal(a, b) for a, b in zip(lagged.rollout_policy.parameters(),
                                                      lagged.generator.parameters()))
    # the frozen second LSTM bias stays zero through MLE and policy-gradient steps
    assert not runs[0.0].generator.lm.lstm.bias_hh_l0.any()


def test_discriminator_batch_is_half_real_half_generated(monkeypatch):
    gan = small(d_l2=0.0, d_dropout=0.0)
    fakes = torch.tensor([[1, 1, 1, 1, 1], [2, 2, 2, 2, 2]])
    asked = []

    def sample(n, length, rng=None):
        asked.append(n)
        return fakes[:n]

    monkeypatch.setattr(gan.generator, "sample", sample)
    scores = {(3,) * 5: 1.0, (4,) * 5: -0.5, (1,) * 5: 0.3, (2,) * 5: -2.0}

    class Lookup(torch.nn.Module):  # D's logit of each row, from the table above
        out = torch.nn.Linear(1, 1)  # the output layer the L2 penalty reads

        def forward(self, ids):
            return torch.tensor([scores[tuple(r)] for r in ids.tolist()])

    gan.discriminator = Lookup()
    real = torch.tensor([[3, 3, 3, 3, 3], [4, 4, 4, 4, 4], [5, 5, 5, 5, 5], [6, 6, 6, 6, 6]])
    loss = gan.discriminator_loss(real, Step())
    assert asked == [2]  # two of the four real rows, two fresh negatives
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    # the mean cross-entropy over the mixed batch of 4: -log sigmoid(real), -log(1 - sigmoid(fake))
    expected = (softplus(-1.0) + softplus(0.5) + softplus(0.3) + softplus(-2.0)) / 4
    assert loss["classify"].item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ConfigError, match="at least 2"):
        gan.discriminator_loss(real[:1], Step())


class _Ids(torch.utils.data.Dataset):
    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i]


SUBJECTS = "the cat|a dog|my neighbour|the old man|a small bird".split("|")
VERBS = "sees|likes|follows|draws".split("|")
OBJECTS = "the river|a red house|the garden|an apple".split("|")


@pytest.fixture
def corpus(tmp_path):
    rng = random.Random(0)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
                              for _ in range(400)) + "\n", encoding="utf-8")
    return path


def test_text_file_run_keeps_its_tokenizer_resumes_exactly_and_evaluates(corpus, tmp_path):
    config = dict(vocab_size=38, max_len=12, d_filter_sizes=(1, 2, 3), d_num_filters=(8, 8, 8),
                  pretrain_g_epochs=1, pretrain_d_rounds=1, d_epochs=1, n_critic=2, rollouts=2)
    settings = dict(data=str(corpus), batch_size=32, progress=False, sample_every=0, seed=1)

    torch.manual_seed(0)
    straight = multigan.build("seqgan", **config)
    multigan.Trainer(straight, out_dir=tmp_path / "a", max_steps=3, **settings).fit()

    torch.manual_seed(0)
    stopped = multigan.build("seqgan", **config)
    multigan.Trainer(stopped, out_dir=tmp_path / "b", max_steps=1, **settings).fit()
    resumed = multigan.load(tmp_path / "b")
    multigan.Trainer(resumed, out_dir=tmp_path / "b", max_steps=3, **settings).fit()
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), key

    loaded = multigan.load(tmp_path / "a")
    assert loaded.generator.tokenizer is not None and loaded.generator.tokenizer.vocab_size == 38
    saved = Tokenizer.load(tmp_path / "a" / "tokenizer.model")  # the run folder keeps it as a file too
    assert saved.to_bytes() == loaded.generator.tokenizer.to_bytes()
    texts = loaded.decode(loaded.sample(4, seed=0))
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    samples = sorted((tmp_path / "a" / "samples").glob("*.txt"))
    assert samples and samples[-1].read_text(encoding="utf-8").count("\n") == 16

    metrics = multigan.registry.get_modality("text").evaluate(loaded, str(corpus), 100, 0)
    scores = ("bleu2", "bleu3", "bleu4", "bleu5", "self_bleu3", "distinct2")
    assert set(metrics) == {*scores, "nll_test", "temperature", "n_samples", "references"}
    assert all(0 <= metrics[k] <= 1 for k in scores) and metrics["temperature"] == 1.0
    assert 0 < metrics["nll_test"] < math.log(38) + 1
    untrained, lines = metrics["references"]["untrained"], metrics["references"]["train_lines"]
    assert set(untrained) == set(metrics) - {"references"} and set(lines) == {*scores, "n_samples"}
    # the corpus's own training sentences match the held-out ones far better than an untrained
    # G's samples (decoded by the same tokenizer), and a trained G sits nearer to them
    assert lines["bleu3"] > untrained["bleu3"] + 0.3 and lines["n_samples"] == 100, metrics
    assert untrained["nll_test"] > metrics["nll_test"], metrics
    # sampled and scored at a temperature: the keyword the CLI passes on
    cold = multigan.registry.get_modality("text").evaluate(loaded, str(corpus), 100, 0, temperature=0.5)
    assert cold["temperature"] == 0.5 and cold["references"]["untrained"]["temperature"] == 0.5
    assert cold["self_bleu3"] > metrics["self_bleu3"] and cold["nll_test"] > metrics["nll_test"], (cold, metrics)


def test_a_vocabulary_mismatch_with_the_tokenizer_is_named():
    gan = multigan.build("seqgan", vocab_size=30, max_len=12, d_filter_sizes=(1, 2), d_num_filters=(4, 4))
    with pytest.raises(ConfigError, match="31 tokens.*vocab_size=30.*vocab_size=31"):
        gan.attach_data(types.SimpleNamespace(tokenizer=types.SimpleNamespace(vocab_size=31)))


@pytest.mark.parametrize("generator", ["lstm", "gpt2"])
def test_cached_steps_match_teacher_forcing(generator):
    gan = small(generator=generator, gpt2_width=16, gpt2_heads=2)
    ids = gan.sample(3, seed=0)
    teacher = gan.generator.log_probs(ids)
    logits, _ = gan.generator.start(3)
    stepped = [logits.log_softmax(-1).gather(1, ids[:, :1])]
    for t, (logits, _) in enumerate(gan.generator.prefix_states(ids), start=1):
        stepped.append(logits.log_softmax(-1).gather(1, ids[:, t:t + 1]))
    assert torch.allclose(torch.cat(stepped, dim=1), teacher, atol=1e-5)


@pytest.mark.parametrize("generator", ["lstm", "gpt2"])
def test_nll_at_a_temperature_scores_the_tempered_softmax(generator):
    gan = small(generator=generator, gpt2_width=16, gpt2_heads=2)
    ids = gan.sample(6, seed=0)
    with torch.no_grad():
        logits, _ = gan.generator.start(6)
        steps = [logits] + [logits for logits, _ in gan.generator.prefix_states(ids)]
    logits = torch.stack(steps, dim=1)                                  # (N, L, V)
    for t in (0.5, 1.0, 2.0):
        expected = -(logits / t).log_softmax(-1).gather(2, ids[..., None]).mean()
        assert gan.nll(ids, temperature=t) == pytest.approx(float(expected), rel=1e-5), t
    assert gan.nll(ids, temperature=0.5) != pytest.approx(gan.nll(ids), rel=1e-3)


def test_sampling_at_a_temperature():
    gan = small(vocab_size=50, max_len=6)
    with torch.no_grad():
        gan.generator.lm.head.weight.normal_(0, 1)   # a peaked distribution to sharpen or flatten
    assert torch.equal(gan.sample(20, seed=3, temperature=1), gan.sample(20, seed=3))
    # near 0: every sequence is the greedy one; near-infinite: uniform tokens
    greedy = gan.sample(20, seed=3, temperature=1e-4)
    assert (greedy == greedy[0]).all() and not (gan.sample(20, seed=3) == greedy[0]).all()
    logits, _ = gan.generator.start(1)
    assert greedy[0, 0] == logits.argmax()
    flat = gan.sample(4000, seed=3, temperature=1e4)[:, 0]
    assert flat.unique().numel() == 50 and flat.bincount().max() < 4000 / 50 * 1.6
    assert gan.generator.training   # sample() leaves the mode as it was


class FixedTable(multigan.TextGAN):
    """A text family written before temperatures: generate and nll take none."""

    def __init__(self):
        super().__init__(multigan.GANConfig(), torch.nn.Linear(1, 5), torch.nn.Linear(1, 1))

    vocab_size, max_len = 5, 3

    def nll(self, ids):
        return math.log(5)

    def generate(self, n, *, cond=None, rng):
        return torch.randint(0, 5, (self.check_unconditional(n, cond), 3), generator=rng)

    def discriminator_loss(self, batch, step):
        raise AssertionError("only sampled and scored here, never trained")

    generator_loss = discriminator_loss


def test_a_family_without_a_temperature_samples_at_one_only():
    gan = FixedTable()
    assert not gan.supports_temperature and small().supports_temperature
    assert torch.equal(gan.sample(4, seed=1, temperature=1.0), gan.sample(4, seed=1))
    with pytest.raises(ConfigError, match="FixedTable cannot sample at temperature 0.7.*no temperature argument"):
        gan.sample(4, seed=1, temperature=0.7)


def test_gpt2_generator_from_a_local_pretrained_folder(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(vocab_size=7, n_positions=8, n_embd=16, n_layer=1, n_head=2)).save_pretrained(tmp_path)
    gan = small(generator="gpt2", pretrained_path=str(tmp_path))
    saved = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert torch.equal(gan.generator.model.transformer.wte.weight, saved.transformer.wte.weight)
    assert gan.sample(2, seed=0).shape == (2, 5)
    with pytest.raises(DataError, match="cannot load a GPT-2 from"):
        small(generator="gpt2", pretrained_path=str(tmp_path / "missing"))


def test_bpe_tokenizer_is_a_config_choice(corpus, tmp_path):
    gan = multigan.build("seqgan", vocab_size=40, max_len=12, tokenizer="bpe", d_filter_sizes=(1, 2),
                         d_num_filters=(4, 4), pretrain_g_epochs=0, pretrain_d_rounds=0, n_critic=1, rollouts=2)
    multigan.Trainer(gan, data=str(corpus), out_dir=tmp_path, max_steps=1, batch_size=8, progress=False).fit()
    assert gan.generator.tokenizer.vocab_size == 40
    with pytest.raises(ConfigError, match="tokenizer"):
        multigan.build("seqgan", tokenizer="wordpiece")


def test_mle_has_its_own_optimiser_so_policy_gradient_starts_fresh(tmp_path):
    gan = small(pretrain_g_epochs=1)
    multigan.Trainer(gan, data=_Ids(torch.randint(3, 7, (64, 5))), out_dir=tmp_path, max_steps=0, batch_size=16,
                     progress=False, sample_every=0).fit()
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 4                                   # one epoch of MLE, phases only
    assert state["optimizers"]["mle"]["state"]                  # MLE stepped its own Adam ...
    assert not state["optimizers"]["generator"]["state"]        # ... and left G's adversarial one fresh


def test_policy_gradient_steps_raise_a_fixed_discriminators_reward():
    torch.manual_seed(0)
    gan = multigan.build("seqgan", vocab_size=50, max_len=8, d_filter_sizes=(1, 2), d_num_filters=(4, 4), rollouts=8)
    gan.discriminator = _PositionalScorer(vocab_size=50, length=8)   # D's verdict: fixed, token by token
    optimizer = torch.optim.Adam(gan.generator.parameters(), lr=1e-2)

    def mean_reward():
        return gan.real_probability(gan.generator.sample(2000, 8, torch.Generator().manual_seed(1))).mean().item()

    before = mean_reward()
    for _ in range(30):
        loss = gan.generator_loss(torch.zeros(32, 8, dtype=torch.long), Step())["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert mean_reward() > before + 0.05
