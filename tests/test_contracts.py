"""A new family needs no change to multigan: it implements its modality's contract, registers,
and the trainer, the command line, the metrics and checkpoints all work with it.

The two families below are the smallest that do (an example for contributors):

* ``tinywave``: an MLP from a latent to a waveform, an MLP discriminator, the non-saturating loss;
* ``tinytext``: one categorical distribution per position, sampled independently; an
  embedding-bag discriminator; the generator trained by REINFORCE with D's "real" probability
  as its reward (tokens are discrete, so D's gradient cannot reach G through them).

Their config fields are deliberately not named like the built-in families' (``rate_hz`` and
``samples``, not WaveGAN's ``sample_rate`` and ``segment_length``; ``vocab`` and ``length``,
not SeqGAN's ``vocab_size`` and ``max_len``): a modality reads the contract's properties,
never a family's config.
"""

import json
import math
from dataclasses import dataclass

import pytest
import soundfile
import torch
from torch import nn

import multigan
from multigan import AudioGAN, GANConfig, LatentGAN, TextGAN, registry
from multigan.cli import main
from multigan.config import make_config, option
from multigan.errors import ConfigError, DataError
from multigan.kernels import adversarial_loss


# ---------------------------------------------------------------------- a minimal audio family
@dataclass
class TinyWaveConfig(GANConfig):
    rate_hz: int = option(4000, "sample rate in Hz", low=1)
    samples: int = option(4096, "samples per example", low=1)
    latent_dim: int = option(16, "size of z", low=1)
    hidden: int = option(32, "width of both MLPs", low=1)
    batch_size: int = option(8, "default batch size", low=1)


class TinyWaveGAN(LatentGAN, AudioGAN):
    """z -> MLP -> tanh waveform (N, 1, samples); an MLP discriminator."""

    shares_fakes = True  # LatentGAN's fake_batch: one fake batch a step, for both losses

    def __init__(self, config: TinyWaveConfig):
        n, h = config.samples, config.hidden
        super().__init__(
            config,
            nn.Sequential(nn.Linear(config.latent_dim, h), nn.ReLU(), nn.Linear(h, n), nn.Tanh(),
                          nn.Unflatten(1, (1, n))),
            nn.Sequential(nn.Flatten(), nn.Linear(n, h), nn.LeakyReLU(0.2), nn.Linear(h, 1)))

    @property
    def sample_rate(self) -> int:
        return self.config.rate_hz

    @property
    def segment_length(self) -> int:
        return self.config.samples

    def discriminator_loss(self, batch, step):
        real, fake = self.discriminator(batch), self.discriminator(self.discriminator_fakes(batch, step))
        return {"loss": adversarial_loss(real, fake, "non_saturating", impl=self.impl)}

    def generator_loss(self, batch, step):
        fake = self.discriminator(self.generator_fakes(batch, step))
        return {"loss": adversarial_loss(None, fake, "non_saturating", impl=self.impl)}


def tinywave(**overrides) -> TinyWaveGAN:
    return TinyWaveGAN(make_config(TinyWaveConfig, overrides))


# ---------------------------------------------------------------------- a minimal text family
@dataclass
class TinyTextConfig(GANConfig):
    vocab: int = option(5000, "tokens in the vocabulary", low=2)
    length: int = option(20, "tokens per sequence", low=1)
    embed_dim: int = option(16, "D's token embedding size", low=1)
    lr_g: float = option(1e-2, "generator learning rate (Adam)", low=0, low_open=True)
    batch_size: int = option(16, "default batch size", low=1)


class TokenTable(nn.Module):
    """One categorical distribution over the vocabulary per position."""

    def __init__(self, vocab: int, length: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(length, vocab))

    def log_probs(self, ids: torch.Tensor) -> torch.Tensor:
        """log p(token) of each token of ids (N, L)."""
        table = self.logits.float().log_softmax(-1)
        return table[torch.arange(ids.shape[1], device=ids.device), ids]

    def forward(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """n sequences (n, L), each token drawn independently."""
        return torch.multinomial(self.logits.float().softmax(-1), n, replacement=True, generator=rng).T


class TinyTextGAN(TextGAN):
    """A token table for G, an embedding bag for D; G learns by REINFORCE."""

    def __init__(self, config: TinyTextConfig):
        super().__init__(config, TokenTable(config.vocab, config.length),
                         nn.Sequential(nn.EmbeddingBag(config.vocab, config.embed_dim), nn.Linear(config.embed_dim, 1)))

    @property
    def vocab_size(self) -> int:
        return self.config.vocab

    @property
    def max_len(self) -> int:
        return self.config.length

    @torch.no_grad()
    def nll(self, ids: torch.Tensor) -> float:
        """Every token counts (the oracle has no EOS)."""
        return float(-self.generator.log_probs(ids.to(self.device)).mean())

    def generate(self, n, *, cond=None, rng):
        return self.sampling_generator(self.check_unconditional(n, cond), rng)

    def discriminator_loss(self, batch, step):
        with torch.no_grad():
            fake = self.generator(len(batch))
        real_logits, fake_logits = self.discriminator(batch), self.discriminator(fake)
        return {"loss": adversarial_loss(real_logits, fake_logits, "non_saturating", impl=self.impl)}

    def generator_loss(self, batch, step):
        fake = self.generator(len(batch))  # sampling is not differentiable: REINFORCE
        with torch.no_grad():
            reward = torch.sigmoid(self.discriminator(fake).float()).squeeze(1)  # D's P(real)
        log_prob = self.generator.log_probs(fake).sum(1)
        return {"loss": -(reward * log_prob).mean(), "reward": reward.mean()}


def tinytext(**overrides) -> TinyTextGAN:
    return TinyTextGAN(make_config(TinyTextConfig, overrides))


# ---------------------------------------------------------------------- the tests
NAMES = ("tinywave", "tinytext")


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Register both families, for this module only. A plugin writes the same as a decorator
    on its factory: ``@register_model("tinywave", modality="audio", config=TinyWaveConfig)``."""
    multigan.register_model("tinywave", modality="audio", config=TinyWaveConfig)(tinywave)
    multigan.register_model("tinytext", modality="text", config=TinyTextConfig)(tinytext)
    yield
    for name in NAMES:
        registry._models.pop(name)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks run fastest on one thread (and then do not slow down on busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(*args) -> None:
    assert main([str(a) for a in args]) == 0


def train(name: str, out, *settings: str) -> None:
    cli("train", name, "--steps", 4, "--batch-size", 4, "--out", out, "--no-progress", "--device", "cpu",
        "--sample-every", 0, "--checkpoint-every", 0, *settings)


def eval_json(capsys, run, n: int) -> dict:
    capsys.readouterr()
    cli("eval", run, "--n", n)
    metrics = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert metrics == json.loads((run / "eval.json").read_text())
    return metrics


def test_new_families_are_listed_with_their_options(capsys):
    assert set(NAMES) <= set(multigan.list_models("*"))
    assert multigan.list_models("tiny*", modality="audio") == ["tinywave"]
    capsys.readouterr()
    cli("list", "tiny*")
    assert capsys.readouterr().out.split() == ["tinytext", "text", "tinywave", "audio"]
    for name, fields in (("tinywave", ("rate_hz", "samples", "latent_dim", "hidden")),
                         ("tinytext", ("vocab", "length", "embed_dim"))):
        cli("list", "--options", name)
        out = capsys.readouterr().out
        assert out.startswith(f"{name} (")
        for field in fields + ("lr_g", "batch_size"):  # its own fields and GANConfig's
            assert f"  {field} " in out, (field, out)


def test_audio_family_trains_samples_and_evaluates_through_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    train("tinywave", run, "--set", "hidden=16")
    assert json.loads((run / "config.json").read_text())["config"]["rate_hz"] == 4000

    cli("sample", run, "--n", 2, "--out", tmp_path / "out.wav")
    for i in range(2):
        info = soundfile.info(str(tmp_path / f"out-00{i}.wav"))
        assert (info.samplerate, info.frames) == (4000, 4096)  # read from the contract's properties
        assert (tmp_path / f"out-00{i}.png").stat().st_size > 0

    metrics = eval_json(capsys, run, 64)
    assert {"score", "fd", "fd_mel", "pitch_kl", "n_samples", "references"} <= set(metrics)
    assert set(metrics["references"]) == {"real", "sines", "noise", "untrained"}
    for values in (metrics, *metrics["references"].values()):
        assert all(math.isfinite(values[k]) for k in ("score", "fd", "fd_mel", "pitch_kl"))


def test_text_family_trains_samples_and_evaluates_through_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    train("tinytext", run)
    cli("sample", run, "--n", 5, "--out", tmp_path / "out.txt")
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert len(lines) == 5
    for line in lines:  # no tokenizer on the oracle: ids separated by spaces
        ids = [int(t) for t in line.split()]
        assert len(ids) == 20 and all(0 <= i < 5000 for i in ids)

    metrics = eval_json(capsys, run, 200)
    assert metrics["name"] == "tinytext" and metrics["n_samples"] == 200
    # 4 steps leave G close to uniform over 5,000 tokens: an NLL near log(5000) = 8.5
    assert 7 < metrics["nll_test"] < 9 and math.isfinite(metrics["nll_oracle"])


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, tmp_path):
    torch.manual_seed(0)
    gan = multigan.build(name)
    multigan.Trainer(gan, out_dir=tmp_path, max_steps=3, batch_size=4, device="cpu", progress=False,
                     sample_every=0, log_every=0).fit()
    loaded = multigan.load(tmp_path)
    assert type(loaded) is type(gan) and loaded.config == gan.config
    assert torch.equal(loaded.sample(3, seed=7), gan.sample(3, seed=7))
    assert not torch.equal(gan.sample(3, seed=7), gan.sample(3, seed=8))


def test_the_audio_modality_reads_the_contract_not_the_config(tmp_path):
    gan = multigan.build("tinywave", rate_hz=8000, samples=2048)
    assert not hasattr(gan.config, "sample_rate") and not hasattr(gan.config, "segment_length")
    audio = registry.get_modality("audio")
    data = audio.dataset(None, gan)  # the notes, synthesised at the family's rate and length
    batch = torch.stack([data[0], data[1]])
    assert batch.shape == (2, 1, 2048)
    audio.check_batch(batch, gan)
    assert audio.batch_units(batch, gan) == pytest.approx(2 * 2048 / 8000)
    with pytest.raises(DataError, match="2048"):
        audio.check_batch(torch.zeros(2, 1, 4096), gan)
    (wav, png) = audio.write_samples(gan.sample(1, seed=0), tmp_path / "one", gan)
    assert soundfile.info(str(wav)).samplerate == 8000 and png.suffix == ".png"


def test_the_text_modality_reads_the_contract_not_the_config(tmp_path):
    text = registry.get_modality("text")
    short = multigan.build("tinytext", length=10)
    assert not hasattr(short.config, "max_len") and not hasattr(short.config, "vocab_size")
    with pytest.raises(ConfigError, match="max_len=10"):  # the oracle's sequences have 20 tokens
        text.dataset("oracle", short)
    with pytest.raises(DataError, match=r"\(N, 10\)"):
        text.check_batch(torch.zeros(2, 20, dtype=torch.long), short)
    with pytest.raises(DataError, match="vocab_size is 100"):
        text.check_batch(torch.full((2, 10), 100), multigan.build("tinytext", vocab=100, length=10))
    text.check_batch(torch.zeros(2, 10, dtype=torch.long), short)
    (path,) = text.write_samples(short.sample(2, seed=0), tmp_path / "two", short)
    assert [len(line.split()) for line in path.read_text().splitlines()] == [10, 10]
