"""The benchmark baselines (benchmarks/baselines): the same networks as multigan's families
(parameter counts), and training iterations that run and update the parameters."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import multigan

FOLDER = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines"
SMALL = {
    "dcgan": dict(image_size=32, channels=1, latent_dim=16, g_width=8, d_width=8),
    "wavegan": dict(model_size=4, latent_dim=16, n_critic=2),
    "melgan": {"segment_length": 2048, "g_width": 4, "d_width": 4, "num_d": 2, "d_layers": 2,
               "residual_layers": 2, "mel.n_mels": 16},
    "seqgan": dict(vocab_size=50, max_len=8, g_embed_dim=8, g_hidden_dim=8, d_embed_dim=8,
                   d_filter_sizes=(1, 2, 3), d_num_filters=(6, 6, 6), rollouts=2),
}
BATCH = 3


def load(name):
    """A baseline module loaded from its file alone, as ``multigan bench`` loads it."""
    spec = importlib.util.spec_from_file_location(f"test_baseline_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_of(name, **overrides):
    gan = multigan.build(name, **overrides)
    return gan, dataclasses.asdict(gan.config)


def test_the_package_lists_a_baseline_per_family():
    spec = importlib.util.spec_from_file_location("test_baselines", FOLDER / "__init__.py",
                                                  submodule_search_locations=[str(FOLDER)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package  # for its relative imports
    try:
        spec.loader.exec_module(package)
    finally:
        del sys.modules[spec.name]
    assert set(package.BASELINES) == set(SMALL)
    assert {name: module.UNIT for name, module in package.BASELINES.items()} == {
        "dcgan": "images/s", "wavegan": "seconds of audio/s", "melgan": "seconds of audio/s", "seqgan": "sequences/s"}


@pytest.mark.parametrize("name, overrides", [
    *[(name, {}) for name in SMALL],   # the papers' defaults
    *SMALL.items(),
    ("dcgan", dict(image_size=128, g_width=4, d_width=4)),
    ("wavegan", dict(model_size=2, segment_length=32768, phase_shuffle=0)),
    ("wavegan", dict(model_size=2, segment_length=65536)),
    ("melgan", {"upsample_ratios": (4, 4, 4, 4), "d_stride": 2, "d_width": 8}),
    ("seqgan", dict(d_filter_sizes=(2, 5), d_num_filters=(3, 7))),
])
def test_parameter_counts_match_multigan(name, overrides):
    gan, config = config_of(name, **overrides)
    ours = tuple(sum(p.numel() for p in net.parameters()) for net in (gan.generator, gan.discriminator))
    assert load(name).parameter_counts(config) == ours


class RecordingAdam(torch.optim.Adam):
    made: list = []

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        RecordingAdam.made.append(self)


@pytest.mark.parametrize("name, step, overrides", [
    ("dcgan", "train", {}),
    ("wavegan", "train", {}),
    ("wavegan", "train", dict(n_critic=1, phase_shuffle_per_batch=True)),
    ("melgan", "train", {}),
    ("melgan", "train", dict(n_critic=2, stft_loss_weight=1.0)),
    ("seqgan", "pg", {}),
    ("seqgan", "pg", dict(ema_decay=0.0)),
    ("seqgan", "d", {}),
])
def test_two_iterations_update_the_parameters(name, step, overrides, monkeypatch):
    _, config = config_of(name, **{**SMALL[name], **overrides})
    RecordingAdam.made = []
    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    run, units = load(name).make_step(config, BATCH, "cpu", step)
    assert units > 0 and RecordingAdam.made
    params = [[p for group in opt.param_groups for p in group["params"]] for opt in RecordingAdam.made]
    before = [[p.detach().clone() for p in ps] for ps in params]
    run()
    run()
    for ps, old in zip(params, before):  # every optimiser stepped, to finite values
        assert all(torch.isfinite(p).all() for p in ps)
        assert any(not torch.equal(p, q) for p, q in zip(ps, old))


def test_units_are_one_batch_per_iteration():
    _, config = config_of("wavegan", **SMALL["wavegan"])
    assert load("wavegan").make_step(config, BATCH, "cpu")[1] == BATCH * 16384 / 16000
    _, config = config_of("melgan", **SMALL["melgan"])
    assert load("melgan").make_step(config, BATCH, "cpu")[1] == BATCH * 2048 / 22050


def test_steps_are_checked():
    _, config = config_of("seqgan", **SMALL["seqgan"])
    with pytest.raises(ValueError, match="'pg'.*'d'"):
        load("seqgan").make_step(config, BATCH, "cpu")
    _, config = config_of("dcgan", **SMALL["dcgan"])
    with pytest.raises(ValueError, match="'train'"):
        load("dcgan").make_step(config, BATCH, "cpu", "pg")
