"""Every registered family, a plugin's too, gets the same checks (timm's habit)."""

import pytest
import torch

import multigan
from multigan.registry import get_modality
from multigan.train.data import first_items


# Enough to exercise every code path in seconds: SeqGAN's paper schedule pre-trains for hours.
QUICK = {"seqgan": dict(pretrain_g_epochs=0, pretrain_d_rounds=0, n_critic=1, rollouts=2),
         "relgan": dict(pretrain_g_epochs=0),
         # HiFi-GAN's paper discriminators have 70 M parameters
         "hifigan": dict(initial_channels=16, mpd_width=2, msd_scales=1, msd_width=16, segment_length=2048)}


@pytest.fixture(params=multigan.list_models())
def name(request):
    return request.param


def _equal(a, b) -> bool:
    if isinstance(a, dict):  # a module's extra state (SeqGAN's tokenizer)
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return torch.equal(a, b)


def test_build_and_preview(name, tmp_path):
    gan = multigan.build(name)
    assert (gan.name, gan.modality) == (name, multigan.registry.model_entry(name).modality)
    modality = get_modality(gan.modality)
    batch = first_items(modality.dataset(None, gan), 2)
    a, b = gan.preview(batch, 2), gan.preview(batch, 2)
    assert torch.equal(a, b)
    files = modality.write_samples(a, tmp_path / "preview", gan)
    assert files and all(f.stat().st_size > 0 for f in files)


def test_one_training_step_and_checkpoint_round_trip(name, tmp_path):
    gan = multigan.build(name, **QUICK.get(name, {}))
    multigan.Trainer(gan, out_dir=tmp_path, max_steps=1, batch_size=2, progress=False).fit()
    loaded = multigan.load(tmp_path)
    assert loaded.name == name and loaded.config == gan.config
    for key, value in gan.state_dict().items():
        assert _equal(value, loaded.state_dict()[key]), key


def test_exported_generator_samples_like_the_run(name, tmp_path):
    """``multigan export RUN`` writes G alone (safetensors); ``multigan.load`` of that file samples
    exactly as the run does."""
    from multigan.cli import main

    gan = multigan.build(name, **QUICK.get(name, {}))
    multigan.Trainer(gan, out_dir=tmp_path, max_steps=1, batch_size=2, progress=False).fit()
    assert main(["export", str(tmp_path)]) == 0
    exported = multigan.load(tmp_path / "generator.safetensors")
    assert exported.name == name and exported.config == gan.config
    run = multigan.load(tmp_path)
    modality = get_modality(gan.modality)
    batch = first_items(modality.dataset(None, gan), 2)
    assert torch.equal(exported.preview(batch, 2), run.preview(batch, 2))
