"""The audio contract's third condition: a class-conditional family (``condition = "label"``)
trains on ``(waveform, label)`` pairs of the labelled notes, and is scored by whether the pitch
classifier hears the pitch it was asked for. The family below is the smallest that does."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

import multigan
from multigan import AudioGAN, GANConfig, registry
from multigan.config import make_config, option
from multigan.errors import DataError
from multigan.kernels import adversarial_loss


@dataclass
class TinyLabelConfig(GANConfig):
    rate_hz: int = option(4000, "sample rate in Hz", low=1)
    samples: int = option(4096, "samples per example", low=1)
    classes: int = option(8, "labels (the notes' pitches)", low=1)
    latent_dim: int = option(16, "size of z", low=1)
    hidden: int = option(32, "width of both networks", low=1)
    batch_size: int = option(16, "default batch size", low=1)


class Conditioned(nn.Module):
    """``body(x + embedding(label))``: a network that also reads a class label."""

    def __init__(self, classes: int, width: int, body: nn.Module):
        super().__init__()
        self.embed, self.body = nn.Embedding(classes, width), body

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1) + self.embed(labels))


class TinyLabelGAN(AudioGAN):
    condition = "label"

    def __init__(self, config: TinyLabelConfig):
        z, h, n = config.latent_dim, config.hidden, config.samples
        super().__init__(
            config,
            Conditioned(config.classes, z, nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, n), nn.Tanh(),
                                                         nn.Unflatten(1, (1, n)))),
            Conditioned(config.classes, n, nn.Sequential(nn.Linear(n, h), nn.LeakyReLU(0.2), nn.Linear(h, 1))))

    sample_rate = property(lambda self: self.config.rate_hz)
    segment_length = property(lambda self: self.config.samples)
    num_classes = property(lambda self: self.config.classes)

    def generate(self, n, *, cond, rng):
        labels = torch.as_tensor(cond, dtype=torch.long, device=self.device).flatten()
        z = torch.randn(len(labels), self.config.latent_dim, generator=rng, device=rng.device).to(self.device)
        return self.sampling_generator(z, labels)

    def preview(self, batch, n):
        return self.sample(cond=batch[1][:min(n, 8)], seed=0)

    def fakes(self, labels):
        return self.generator(torch.randn(len(labels), self.config.latent_dim, device=labels.device), labels)

    def discriminator_loss(self, batch, step):
        wav, labels = batch
        with torch.no_grad():
            fake = self.fakes(labels)
        real_out, fake_out = self.discriminator(wav, labels), self.discriminator(fake, labels)
        return {"loss": adversarial_loss(real_out, fake_out, "non_saturating", impl=self.impl)}

    def generator_loss(self, batch, step):
        _, labels = batch
        fake_out = self.discriminator(self.fakes(labels), labels)
        return {"loss": adversarial_loss(None, fake_out, "non_saturating", impl=self.impl)}


@pytest.fixture
def tinylabel():
    registry.load_plugins()
    registry.register_model("tinylabel", modality="audio", config=TinyLabelConfig)(
        lambda **overrides: TinyLabelGAN(make_config(TinyLabelConfig, overrides)))
    yield
    registry._models.pop("tinylabel", None)


def test_a_label_conditioned_family_trains_on_labelled_notes_and_is_scored(tinylabel, tmp_path):
    torch.manual_seed(0)
    gan = multigan.build("tinylabel")
    audio = registry.get_modality("audio")
    data = audio.dataset("notes", gan)
    wav, label = data[3]
    assert wav.shape == (1, 4096) and label.dtype == torch.long and 0 <= int(label) < 8
    trainer = multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=3, batch_size=8, sample_every=3,
                               progress=False, precision="32")
    trainer.fit()
    assert len(list((tmp_path / "run" / "samples").glob("step-000003-*.wav"))) == 8
    asked = torch.tensor([0, 3, 7])
    x = multigan.load(tmp_path / "run").sample(cond=asked, seed=1)
    assert x.shape == (3, 1, 4096) and torch.equal(x, gan.sample(cond=asked, seed=1))

    metrics = audio.evaluate(gan, None, 64, 0)
    scored = {"label_accuracy", "cas", "cas_std", "augmentation_gain", "augmentation_gain_std", "fd", "fd_mel"}
    once = {"cas_real", "cas_real_std", "few_shot_accuracy", "few_shot_accuracy_std"}
    assert set(metrics) == scored | once | {"n_samples", "references"}
    assert metrics["n_samples"] == 64
    refs = metrics["references"]
    assert refs.keys() == {"real", "sines", "untrained"}
    assert all(set(ref) == scored for ref in refs.values())
    assert refs["real"]["cas"] > 0.9 > 0.5 > refs["untrained"]["cas"]       # trained on real notes vs on noise
    assert refs["real"]["label_accuracy"] > 0.9                    # the classifier hears real notes' pitches
    assert 0.0 <= metrics["label_accuracy"] <= 1.0
    # a tone at the asked pitch passes label_accuracy; only the distances tell it from notes
    assert refs["sines"]["label_accuracy"] > 0.9
    assert refs["sines"]["fd"] > 5 * refs["real"]["fd"] and refs["sines"]["fd_mel"] > 5 * refs["real"]["fd_mel"]


def test_label_batches_are_checked(tinylabel):
    gan = multigan.build("tinylabel")
    check = registry.get_modality("audio").check_batch
    wav = torch.zeros(2, 1, 4096)
    check((wav, torch.tensor([1, 7])), gan)
    with pytest.raises(DataError, match=r"\[1, 8\] but tinylabel has 8 classes"):
        check((wav, torch.tensor([1, 8])), gan)
    with pytest.raises(DataError, match="int64 class labels"):
        check((wav, torch.tensor([1.0, 2.0])), gan)
    with pytest.raises(DataError, match=r"\(waveform, label\) pairs"):
        check(wav, gan)


def test_a_metric_network_trained_on_first_use_inside_no_grad(tmp_path, monkeypatch):
    """The pitch classifier is trained on a cache miss, which may come inside a metric that
    runs under no_grad (as evaluate_labelled's samples do): it still trains."""
    from multigan.modalities.audio.metrics import pitch_classifier

    monkeypatch.setenv("MULTIGAN_CACHE", str(tmp_path))
    with torch.no_grad():
        classifier = pitch_classifier(2000, 1024)
    assert not classifier.training and (tmp_path / "pitch_classifier-v3-2000hz-1024.pt").is_file()


def test_what_a_condition_does_not_need_is_a_clear_error():
    with pytest.raises(multigan.ConfigError, match="WaveGAN defines no mel_config.*its condition is 'none'"):
        multigan.build("wavegan", model_size=2).mel_config
    with pytest.raises(multigan.ConfigError, match="MelGAN defines no num_classes.*its condition is 'mel'"):
        multigan.build("melgan").num_classes
