"""RelGAN: the reference code's defaults, the relational memory generator behind the
TextGenerator interface, the Gumbel-softmax relaxation and the relativistic loss against hand
computations, the multi-representation discriminator, resuming bitwise, and that adversarial
steps move G where D pushes it."""

import importlib.util
import json
import math
import random
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import multigan
from multigan import Step
from multigan.errors import ConfigError
from multigan.losses import relativistic_loss
from multigan.modalities.text.gumbel import gumbel_noise, gumbel_softmax, soft_sample
from multigan.modalities.text.relgan import SCHEDULES, RelGAN, inverse_temperature

TINY = dict(vocab_size=30, max_len=6, g_embed_dim=8, num_heads=2, head_size=8, d_embed_dim=8,
            d_representations=4, d_filter_sizes=(2, 3), d_num_filters=(8, 8), d_hidden=8, pretrain_g_epochs=0)
EOS_TOKENIZER = types.SimpleNamespace(bos_id=1, eos_id=2, pad_id=0, vocab_size=30)


def tiny(**overrides) -> RelGAN:
    return multigan.build("relgan", **{**TINY, **overrides})


def write_corpus(path: Path, lines: int = 400) -> Path:
    rng = random.Random(0)
    words = "the a cat dog sees likes river house garden apple moon city old small".split()
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(lines))
                    + "\n", encoding="utf-8")
    return path


def test_defaults_are_the_reference_codes():
    gan = multigan.build("relgan")
    c = gan.config
    assert (c.vocab_size, c.max_len, c.batch_size) == (5000, 20, 64)
    assert (c.g_embed_dim, c.mem_slots, c.num_heads, c.head_size) == (32, 1, 2, 256)
    assert (c.d_embed_dim, c.d_representations, c.d_hidden, c.d_dropout) == (64, 64, 100, 0.25)
    assert (c.d_filter_sizes, c.d_num_filters) == ((2, 3, 4, 5), (300, 300, 300, 300))
    assert (c.beta_max, c.beta_schedule, c.beta_steps) == (100.0, "exp", 5000)
    assert (c.lr_g, c.lr_d, c.betas_g, c.betas_d) == (1e-4, 1e-4, (0.9, 0.999), (0.9, 0.999))
    assert (c.grad_clip_g, c.grad_clip_d, c.n_critic, c.pretrain_g_epochs, c.max_steps) == (5.0, 5.0, 5, 150, 3000)
    assert gan.generator_first and gan.critic_steps(156) == 5
    (mle,) = gan.phases(156)
    assert (mle.name, mle.network, mle.steps, mle.own_optimizer) == ("mle", "generator", 150 * 156, True)
    assert c.lr_pretrain == 1e-2 and mle.lr == 1e-2  # the reference's gpre_lr, apart from G's adversarial 1e-4
    assert gan.generator.memory.output_size == 512 and gan.generator.head.in_features == 512
    x = gan.sample(4)
    assert x.shape == (4, 20) and x.dtype == torch.long and 0 <= x.min() and x.max() < 5000
    assert torch.equal(gan.sample(3, seed=0), gan.sample(3, seed=0))
    # D: 64 representations of one feature each, one logit per representation
    assert gan.discriminator(x).shape == (4, 64)


@pytest.mark.parametrize("overrides, message", [
    (dict(max_len=4), r"d_filter_sizes \[5\] are wider than max_len 4"),
    (dict(d_num_filters=(10, 10)), "one filter count per window size"),
    (dict(d_embed_dim=60), "d_embed_dim 60 does not split evenly into d_representations 64"),
    (dict(beta_schedule="cosine"), "config key 'beta_schedule': got 'cosine', allowed: 'exp', 'linear'"),
    (dict(beta_max=0.5), "config key 'beta_max': got 0.5, allowed: a value >= 1"),
    (dict(beta_step=10), "unknown config key 'beta_step'.*Did you mean 'beta_steps'"),
])
def test_config_errors_are_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        multigan.build("relgan", **overrides)
    assert "\n" not in str(err.value)


def test_teacher_forcing_matches_stepping_and_takes_a_temperature():
    torch.manual_seed(0)
    gan = tiny(mem_slots=3)
    g = gan.generator
    ids = gan.sample(5, seed=0)
    assert torch.equal(g.memory.initial_memory(5, ids.device)[4], torch.eye(3, 16))   # the identity, padded
    logits, state = g.start(5)
    assert state.shape == (5, 3, 16)
    steps = [logits] + [logits for logits, _ in g.prefix_states(ids)]
    logits = torch.stack(steps, dim=1)                                              # (N, L, V)
    for t in (0.5, 1.0, 2.0):
        expected = (logits / t).log_softmax(-1).gather(2, ids[..., None]).squeeze(2)
        torch.testing.assert_close(g.log_probs(ids, temperature=t), expected, rtol=1e-5, atol=1e-5)
        assert gan.nll(ids, temperature=t) == pytest.approx(float(-expected.mean()), rel=1e-5)
    # states select and concatenate along the batch, as rollouts and sampling need
    _, state = g.step(ids[:, 0], state)
    assert torch.equal(g.cat([g.select(state, torch.tensor([3])), g.select(state, torch.tensor([1]))]),
                       state[[3, 1]])


def test_gumbel_softmax_gradient_against_a_hand_computed_case():
    logits = torch.tensor([0.0, math.log(3)], requires_grad=True)
    # no noise, beta 2: softmax(2 * (0, log 3)) = (1/10, 9/10); d soft_1 / d o = beta soft_1 (e_1 - soft)
    token, soft = gumbel_softmax(logits, 2.0, torch.zeros(2))
    assert token.item() == 1
    torch.testing.assert_close(soft, torch.tensor([0.1, 0.9]))
    (grad,) = torch.autograd.grad(soft[1], logits)
    torch.testing.assert_close(grad, torch.tensor([-0.18, 0.18]))
    # noise that makes token 0 win: o + g = (log 9, log 3); beta 1 gives (3/4, 1/4)
    token, soft = gumbel_softmax(logits, 1.0, torch.tensor([math.log(9), 0.0]))
    assert token.item() == 0
    torch.testing.assert_close(soft, torch.tensor([0.75, 0.25]))
    (grad,) = torch.autograd.grad(soft[0], logits)
    torch.testing.assert_close(grad, torch.tensor([0.1875, -0.1875]))


def test_gumbel_max_draws_follow_the_softmax():
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0]]).expand(40_000, -1)
    noise = gumbel_noise(logits.shape, logits.device, torch.Generator().manual_seed(0))
    token, soft = gumbel_softmax(logits, 1000.0, noise)
    counts = token.bincount(minlength=4) / 40_000
    p = logits[0].softmax(-1)
    assert torch.all((counts - p).abs() < 5 * (p * (1 - p) / 40_000).sqrt()), (counts, p)
    # a large beta: the relaxation is (but for near ties of the perturbed logits) the token's one-hot
    assert torch.equal(soft.argmax(-1), token)
    assert (soft - F.one_hot(token, 4).float()).abs().mean() < 1e-3


def test_soft_samples_reach_g_and_end_at_eos():
    torch.manual_seed(0)
    gan = tiny()
    tokens, relaxed = soft_sample(gan.generator, 8, 6, beta=3.0, rng=torch.Generator().manual_seed(0))
    assert tokens.shape == (8, 6) and relaxed.shape == (8, 6, 30)
    assert torch.equal(relaxed.argmax(-1), tokens)               # each token is its relaxation's largest entry
    torch.testing.assert_close(relaxed.sum(-1), torch.ones(8, 6))
    relaxed[:, -1, 5].sum().backward()                           # the last position's relaxation depends on
    assert gan.generator.memory.qkv.weight.grad.abs().sum() > 0  # the memory, which all positions wrote
    # with a tokenizer: after EOS, PAD and PAD's exact one-hot, as a real sequence's padding
    gan.generator.tokenizer = EOS_TOKENIZER
    with torch.no_grad():
        gan.generator.head.bias[2] = 3.0                         # EOS is likely
    tokens, relaxed = soft_sample(gan.generator, 64, 6, beta=3.0)
    after = gan.generator.token_mask(tokens) == 0
    assert after.any() and torch.all(tokens[after] == 0)
    assert torch.equal(relaxed[after], F.one_hot(tokens[after], 30).float())


def test_relativistic_loss_against_hand_computed_values():
    real = torch.tensor([2.0, 0.0], requires_grad=True)
    fake = torch.tensor([0.0, 0.0], requires_grad=True)
    # D: mean -log sigmoid(real - fake) = (log(1 + e^-2) + log 2) / 2; G: (log(1 + e^2) + log 2) / 2
    d = relativistic_loss(real, fake)
    assert d.item() == pytest.approx((math.log1p(math.exp(-2)) + math.log(2)) / 2, rel=1e-6)
    assert relativistic_loss(fake, real).item() == pytest.approx((math.log1p(math.exp(2)) + math.log(2)) / 2, rel=1e-6)
    d.backward()   # d/d real_i = -sigmoid(fake_i - real_i) / 2; D's fake gradient is its negation
    expected = torch.tensor([-1 / (1 + math.exp(2)) / 2, -0.25])
    torch.testing.assert_close(real.grad, expected)
    torch.testing.assert_close(fake.grad, -expected)
    with pytest.raises(ValueError, match=r"pairs outputs element by element: got shapes \(2,\) and \(3,\)"):
        relativistic_loss(real, torch.zeros(3))


def test_schedules_rise_from_one_to_beta_max():
    assert inverse_temperature("exp", 100.0, 0, 5000) == 1.0
    assert inverse_temperature("exp", 100.0, 2500, 5000) == pytest.approx(10.0)
    assert inverse_temperature("exp", 100.0, 3000, 5000) == pytest.approx(100 ** 0.6)   # the reference's last step
    assert inverse_temperature("exp", 100.0, 9000, 5000) == pytest.approx(100.0)        # stays at beta_max
    for name in SCHEDULES:
        betas = [inverse_temperature(name, 50.0, n, 100) for n in range(0, 101, 5)]
        assert betas == sorted(betas), name
        assert betas[-1] == pytest.approx(50.0, rel=1e-3), name
        assert betas[0] == (50.0 if name == "constant" else pytest.approx(1.0, abs=0.01)), name
    assert inverse_temperature("linear", 50.0, 50, 100) == pytest.approx(25.5)


def test_discriminator_scores_each_representation_of_one_hot_or_relaxed_input():
    torch.manual_seed(0)
    d = tiny().discriminator.eval()
    ids = torch.randint(0, 30, (5, 6))
    scores = d(ids)
    assert scores.shape == (5, 4)
    torch.testing.assert_close(d(F.one_hot(ids, 30).float()), scores)   # a one-hot row is the embedding lookup
    # representation 1 reads features 2 and 3 of the embedding only
    with torch.no_grad():
        d.embedding.weight[:, 2:4] += 1.0
    changed = (d(ids) - scores).abs().amax(dim=0) > 0
    assert changed.tolist() == [False, True, False, False]


def test_generator_loss_anneals_beta_and_trains_g_through_d():
    torch.manual_seed(0)
    gan = tiny(beta_max=16.0, beta_steps=4)
    batch = torch.randint(0, 30, (8, 6))
    betas = []
    for _ in range(3):
        out = gan.generator_loss(batch, Step())
        betas.append(out["beta"].item())
        assert gan.discriminator_loss(batch, Step())["loss"].item() > 0
    assert betas == [1.0, 2.0, 4.0] and int(gan.generator.adversarial_steps) == 3
    gan.generator.zero_grad()
    out["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.generator.head.parameters())


class _PositionalScorer(torch.nn.Module):
    """D's logit: a fixed random score of each (position, token), summed over the (relaxed) sequence."""

    def __init__(self, vocab_size, length):
        super().__init__()
        self.scores = torch.nn.Parameter(3 * torch.randn(length, vocab_size), requires_grad=False)

    def forward(self, x):
        x = x if x.is_floating_point() else F.one_hot(x, self.scores.shape[1]).float()
        return (x * self.scores).sum(dim=(1, 2))[:, None]


def test_adversarial_steps_raise_a_fixed_discriminators_score():
    """The relaxation carries D's gradient into G: against a fixed D, a few dozen G updates raise
    D's mean score of G's (hard) samples."""
    torch.manual_seed(0)
    gan = tiny(vocab_size=50, max_len=8, beta_max=10.0, beta_steps=10)
    gan.discriminator = _PositionalScorer(50, 8)
    optimizer = torch.optim.Adam(gan.generator.parameters(), lr=1e-2)
    real = torch.zeros(32, 8, dtype=torch.long)

    def mean_score():
        return gan.discriminator(gan.sample(2000, seed=1)).mean().item()

    before = mean_score()
    for _ in range(30):
        loss = gan.generator_loss(real, Step())["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert mean_score() > before + 3.0, (before, mean_score())


def test_training_on_a_corpus_resumes_bitwise_and_keeps_the_temperature(tmp_path):
    data = str(write_corpus(tmp_path / "corpus.txt"))
    config = dict(TINY, pretrain_g_epochs=1, n_critic=2, beta_steps=4)
    settings = dict(data=data, batch_size=32, progress=False, sample_every=0, log_every=1, seed=1, precision="32")

    torch.manual_seed(0)
    straight = multigan.build("relgan", **config)
    multigan.Trainer(straight, out_dir=tmp_path / "a", max_steps=3, **settings).fit()
    torch.manual_seed(0)
    stopped = multigan.build("relgan", **config)
    multigan.Trainer(stopped, out_dir=tmp_path / "b", max_steps=1, **settings).fit()
    resumed = multigan.load(tmp_path / "b")
    assert int(resumed.generator.adversarial_steps) == 1
    multigan.Trainer(resumed, out_dir=tmp_path / "b", max_steps=3, **settings).fit()
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), key
    assert int(resumed.generator.adversarial_steps) == 3

    def logged(run):
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_s"}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    lines = logged(tmp_path / "a")
    assert lines == logged(tmp_path / "b")
    # an epoch of MLE (360 training lines: 11 batches of 32), then 3 adversarial steps at beta
    # 1, 100 ** (1/4), 100 ** (2/4)
    assert [line["phase"] for line in lines] == ["mle"] * 11 + ["adversarial"] * 3
    assert [line["g_beta"] for line in lines[11:]] == pytest.approx([1.0, 100 ** 0.25, 100 ** 0.5])
    # the corpus's tokenizer travels with G: the loaded run decodes text, and its samples end at EOS
    samples = resumed.sample(64, seed=0)
    assert resumed.tokenizer.vocab_size == 30 and all(isinstance(t, str) for t in resumed.decode(samples))
    assert torch.all(samples[resumed.generator.token_mask(samples) == 0] == resumed.tokenizer.pad_id)


RECIPES = Path(__file__).parents[1] / "recipes"


def _recipe(name):
    spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHRUNK = dict(head_size=8, d_embed_dim=4, d_representations=4, d_filter_sizes=(2, 3), d_num_filters=(8, 8),
              d_hidden=8, n_critic=1)


def test_oracle_recipe_reports_the_trajectory_the_sweep_and_the_targets(tmp_path, monkeypatch):
    from PIL import Image
    from multigan.modalities.text import data as text_data

    # a shrunken oracle (a prefix of each split's stream): 4 batches an epoch, 500 held out
    monkeypatch.setattr(text_data, "ORACLE_SIZES", {"train": 256, "test": 500})
    seqgan = tmp_path / "seqgan.json"    # a SeqGAN recipe's eval.json, as much of it as is read
    seqgan_sweep = [{"temperature": t, "nll_oracle": 9.0 - t, "nll_test": 8.0 + t, "n_samples": 100}
                    for t in (0.8, 1.0, 1.25)]
    seqgan.write_text(json.dumps({"nll_oracle": {"seqgan": 8.0}, "sweep": {"seqgan": seqgan_sweep}}))
    result = _recipe("relgan_oracle").main(tmp_path / "run", scale=0.01, overrides=SHRUNK, n_samples=100,
                                           n_trajectory=50, progress=False, steps=2, temperatures=(0.8, 1.0, 1.25),
                                           seqgan=seqgan)
    run = tmp_path / "run"
    assert json.loads((run / "eval.json").read_text()) == result
    assert set(result["nll_oracle"]) == set(result["nll_test"]) == {"random", "mle", "relgan"}
    assert result["seqgan_nll_oracle"] == 8.0 and result["seqgan_source"] == str(seqgan)
    assert len(result["targets"]) == 3
    # one MLE epoch of 4 steps and 2 adversarial steps, a checkpoint at the end of each stage
    assert [(p["step"], p["phase"]) for p in result["trajectory"]] == [(4, "mle"), (6, "adversarial")]
    assert result["trajectory"][-1]["n_samples"] == 50
    assert multigan.load(run / "mle").config.lr_pretrain == 1e-2 and multigan.load(run / "adversarial").config.lr_g == 1e-4
    sweep = result["sweep"]
    assert list(sweep) == ["mle", "relgan", "seqgan", "oracle"] and sweep["seqgan"] == seqgan_sweep
    assert sweep["relgan"][1]["nll_oracle"] == result["nll_oracle"]["relgan"]
    assert sweep["mle"][1]["nll_test"] == result["nll_test"]["mle"]
    table = (run / "quality_diversity.md").read_text()
    assert table.count("| RelGAN |") == table.count("| SeqGAN |") == table.count("| oracle |") == 3
    assert "| step | phase |" in (run / "trajectory.md").read_text()
    with Image.open(run / "quality_diversity.png") as image:
        assert image.size == (1800, 650)    # the four curves, then MLE, RelGAN and SeqGAN zoomed
    assert (run / "trajectory.png").is_file()
    # without a SeqGAN run the documented result stands in
    assert _recipe("relgan_oracle").read_seqgan(tmp_path / "missing.json") is None


def test_text_recipe_on_a_local_file(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.txt")
    result = _recipe("relgan_text").main(str(corpus), tmp_path / "run", scale=0.001, n_samples=50, progress=False,
                                         overrides={**SHRUNK, "vocab_size": 30})
    assert set(result) == {"mle", "relgan"}
    assert {"bleu2", "bleu5", "self_bleu3", "distinct2", "nll_test", "temperature"} <= set(result["relgan"])
    assert set(result["relgan"]["references"]) == {"untrained", "train_lines"}
    assert json.loads((tmp_path / "run" / "eval.json").read_text()) == result
    loaded = multigan.load(tmp_path / "run")   # one run: MLE at the reference's 1e-2, then RelGAN at 1e-4
    assert loaded.tokenizer.vocab_size == 30 and len(loaded.decode(loaded.sample(3, seed=0))) == 3
    assert (loaded.config.lr_pretrain, loaded.config.lr_g) == (1e-2, 1e-4)
    assert sorted((tmp_path / "run" / "samples").glob("*.txt"))


@pytest.mark.slow
def test_adversarial_steps_lower_nll_oracle_against_a_fixed_mle_start(tmp_path):
    """The recipe at a quarter scale (2 epochs of MLE, 100 adversarial steps): at T = 1, RelGAN's
    samples score better under the oracle than those of the MLE start it began from, without
    losing the held-out data."""
    result = _recipe("relgan_oracle").main(tmp_path, scale=0.25, n_samples=2000, n_trajectory=500,
                                           progress=False, temperatures=(1.0,), seqgan=None)
    nll, test = result["nll_oracle"], result["nll_test"]
    # measured (171 s on one thread): nll_oracle MLE 9.724 -> RelGAN 9.360, nll_test 7.637 -> 7.682
    assert nll["relgan"] < nll["mle"] - 0.2, result
    assert test["relgan"] < test["mle"] + 0.5, result
    assert nll["mle"] < nll["random"] - 1.0, result
