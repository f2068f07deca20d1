"""The EMA generator: warm-up of its decay and BatchNorm statistics measured on its own weights."""

import copy

import pytest
import torch

import multigan
from multigan.train.ema import batch_norms, recompute_norm_statistics, warmed_up_decay


def test_decay_warms_up_then_holds():
    assert warmed_up_decay(0.999, 0) == pytest.approx(0.1)
    assert warmed_up_decay(0.999, 90) == pytest.approx(0.91)
    assert warmed_up_decay(0.999, 10**6) == 0.999
    assert warmed_up_decay(0.5, 0) == pytest.approx(0.1) and warmed_up_decay(0.5, 10) == 0.5


def ema_dcgan():
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, latent_dim=16)
    ema = gan.add_ema()
    with torch.no_grad():  # an average unlike G: its activations have other statistics
        for p in ema.parameters():
            p.mul_(1.5).add_(0.05)
    for e, b in zip(ema.buffers(), gan.generator.buffers()):
        e.copy_(b)  # what update_ema leaves: G's statistics
    return gan, ema


def gap_to_batch_statistics(gan, ema, z):
    """How far eval-mode output (running statistics) is from train-mode output (the batch's own)."""
    with torch.no_grad():
        batch_stats = copy.deepcopy(ema).train()(z)  # a copy: train mode would update the statistics
        return float((ema.eval()(z) - batch_stats).abs().mean())


def test_recomputed_statistics_are_those_of_the_ema_weights():
    gan, ema = ema_dcgan()
    z = torch.randn(2048, 16, generator=torch.Generator().manual_seed(1))
    before = gap_to_batch_statistics(gan, ema, z)
    state = torch.get_rng_state()
    assert recompute_norm_statistics(gan, batch_size=256, passes=8)
    assert torch.equal(torch.get_rng_state(), state)  # training's random stream is untouched
    after = gap_to_batch_statistics(gan, ema, z)
    assert after < 0.1 * before, (before, after)
    assert not ema.training and all(m.momentum == 0.1 for m in batch_norms(ema))
    # deterministic: the same inputs every time, so every process of a run agrees
    first = [b.clone() for b in ema.buffers()]
    recompute_norm_statistics(gan, batch_size=256, passes=8)
    assert all(torch.equal(a, b) for a, b in zip(first, ema.buffers()))


def test_families_without_batchnorm_or_latents_are_left_alone():
    wavegan = multigan.build("wavegan", model_size=4)
    wavegan.add_ema()
    assert not recompute_norm_statistics(wavegan, batch_size=2)      # no BatchNorm layers
    melgan = multigan.build("melgan", g_width=4, d_width=4, segment_length=4096)
    melgan.add_ema()
    assert melgan.generator_inputs(2, torch.Generator()) is None     # its inputs come from data
    assert not recompute_norm_statistics(melgan, batch_size=2)


def test_training_refreshes_the_saved_ema_statistics(tmp_path):
    torch.manual_seed(0)
    gan = multigan.build("dcgan", image_size=32, channels=1, g_width=8, d_width=8, latent_dim=16, ema_decay=0.9)
    multigan.Trainer(gan, data="digits", out_dir=tmp_path / "run", batch_size=16, max_steps=4, sample_every=0,
                     checkpoint_every=0, progress=False, precision="32").fit()
    loaded = multigan.load(tmp_path / "run")
    live = {k: v for k, v in loaded.generator.state_dict().items() if "running_mean" in k}
    saved = {k: v for k, v in loaded.generator_ema.state_dict().items() if "running_mean" in k}
    assert saved and all(not torch.equal(live[k], saved[k]) for k in saved)  # measured, not copied from G
