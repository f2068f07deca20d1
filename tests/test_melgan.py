import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

import multigan
from multigan import Step
from multigan.config import config_to_dict
from multigan.errors import ConfigError


def test_generator_maps_80_by_32_mel_to_8192_samples():
    gan = multigan.build("melgan")
    assert gan.generator(torch.randn(1, 80, 32)).shape == (1, 1, 8192)
    assert round(sum(p.numel() for p in gan.generator.parameters()) / 1e6, 2) == 4.27


def test_defaults_are_the_papers():
    c = multigan.build("melgan").config
    assert (c.mel.sample_rate, c.mel.n_fft, c.mel.hop_length, c.mel.win_length, c.mel.n_mels) == (22050, 1024, 256, 1024, 80)
    assert (c.upsample_ratios, c.residual_layers, c.num_d, c.fm_weight) == ((8, 8, 2, 2), 3, 3, 10.0)
    assert (c.lr_g, c.betas_g, c.batch_size, c.segment_length) == (1e-4, (0.5, 0.9), 16, 8192)
    assert c.sample_rate == 22050


def test_weight_norm_uses_parametrizations():
    gan = multigan.build("melgan")
    convs = [m for m in gan.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))]
    assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)


def test_multi_scale_discriminator_sees_three_poolings():
    gan = multigan.build("melgan")
    outs = gan.discriminator(torch.randn(2, 1, 8192))
    assert len(outs) == 3
    assert [o[-1].shape[-1] for o in outs] == [32, 16, 8]  # score maps of the 1x, 2x, 4x pooled waveform
    assert len(outs[0]) == 4 + 3  # first conv, 4 strided, one more conv, the score


def test_mel_settings_travel_with_the_config():
    gan = multigan.build("melgan", **{"mel.n_mels": 64, "mel.f_max": 8000.0})
    d = config_to_dict(gan.config)
    assert d["mel"]["n_mels"] == 64 and d["mel"]["f_max"] == 8000.0
    again = multigan.build("melgan", **d)
    assert again.config == gan.config and dataclasses.asdict(again.config.mel)["n_mels"] == 64
    assert again.generator(torch.randn(1, 64, 4)).shape == (1, 1, 1024)


@pytest.mark.parametrize("overrides, message", [
    ({"mel.hop_length": 300}, "set upsample_ratios=6,5,5,2"),
    ({"segment_length": 8000}, "use 7936"),
    ({"mel.win_length": 2048}, "longer than n_fft"),
    ({"mel.f_max": 12000.0}, "f_max <= sample_rate / 2"),
    ({"mel.nmels": 64}, "unknown config key 'mel.nmels'"),
    ({"segment_length": 1024, "stft_loss_weight": 1.0}, "too short for the multi-resolution STFT loss.*above 1024"),
])
def test_bad_mel_settings_say_what_to_change(overrides, message):
    with pytest.raises(ConfigError, match=message):
        multigan.build("melgan", **overrides)


def test_sampling_needs_a_mel():
    gan = multigan.build("melgan")
    with pytest.raises(ConfigError, match="call sample\\(cond=mel\\)"):
        gan.sample(2)
    with pytest.raises(ConfigError, match="\\(N, 80, frames\\)"):
        gan.sample(cond=torch.zeros(1, 40, 8))
    wav = torch.rand(2, 1, 4096) * 2 - 1
    assert gan.sample(cond=gan.mel(wav), seed=0).shape == (2, 1, 4096)


def test_generator_loss_terms():
    gan = multigan.build("melgan", stft_loss_weight=1.0)
    wav = torch.rand(2, 1, 8192) * 2 - 1
    out = gan.generator_loss((gan.mel(wav), wav), Step())
    assert set(out) == {"loss", "adversarial", "feature_matching", "stft"}
    expected = out["adversarial"] + 10 * out["feature_matching"] + out["stft"]
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_mel_loss_is_hifigans_in_the_warm_up_and_beside_the_adversarial_loss():
    torch.manual_seed(0)
    gan = multigan.build("melgan", mel_loss_weight=45.0, stft_warmup_steps=3)
    wav = torch.rand(2, 1, 8192) * 2 - 1
    mel = gan.mel(wav)
    fake = gan.generator(mel)
    by_hand = (gan.mel(fake) - mel).abs().mean()  # the log-mel L1 to the conditioning mel
    out = gan.generator_loss((mel, wav), Step(fake=fake))
    assert set(out) == {"loss", "adversarial", "feature_matching", "mel"}
    assert out["mel"].item() == pytest.approx(by_hand.item(), rel=1e-6)
    expected = out["adversarial"] + 10 * out["feature_matching"] + 45 * by_hand
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    [phase] = gan.phases(100)
    assert phase.steps == 3 and "mel" in phase.trains
    warm = phase.loss((mel, wav), Step())
    stft = multigan.modalities.audio.features.multi_resolution_stft_distance(fake, wav)
    assert warm["loss"].item() == pytest.approx((stft + 45 * by_hand).item(), rel=1e-5)


TINY = {"mel.sample_rate": 16000, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16, "mel.n_mels": 8,
        "upsample_ratios": (4, 4), "segment_length": 2048, "g_width": 4, "residual_layers": 1, "num_d": 2,
        "d_width": 4, "d_layers": 1}


def test_a_warm_up_learning_rate_gives_the_warm_up_an_adam_of_its_own(tmp_path):
    """lr_warmup: the warm-up trains G with its own Adam at that rate; the adversarial phase then
    starts on G's untouched optimiser at lr_g. Without it the two phases share G's optimiser."""
    torch.manual_seed(0)
    gan = multigan.build("melgan", **TINY, stft_warmup_steps=2, mel_loss_weight=1.0, lr_warmup=1e-3)
    t = multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=0, batch_size=2, sample_every=0, precision="32",
                         checkpoint_every=0, progress=False)
    t.fit()
    warm, g = t.optimizers["stft_warmup"], t.optimizers["generator"]
    assert warm.param_groups[0]["lr"] == 1e-3 and g.param_groups[0]["lr"] == gan.config.lr_g == 1e-4
    assert all(warm.state[p]["step"] == 2 for p in gan.generator.parameters()) and not g.state
    [shared] = multigan.build("melgan", **TINY, stft_warmup_steps=2).phases(10)
    assert not shared.own_optimizer and shared.lr is None


def test_a_training_step_is_the_reference_loops(tmp_path):
    """One adversarial step, as the MelGAN reference loop takes it: G vocodes the batch once; D
    updates on the real batch and the detached fakes; G's update scores the same fakes with the
    updated D, its feature-matching targets being D's real features from before the update. So D
    runs three times a step, not four."""
    torch.manual_seed(0)
    gan = multigan.build("melgan", **TINY)
    t = multigan.Trainer(gan, out_dir=tmp_path / "run", max_steps=1, batch_size=2, sample_every=0, precision="32",
                         checkpoint_every=0, progress=False)
    t.setup()
    plain_gan, plain_opt = copy.deepcopy((gan, t.optimizers))
    batches, next_batch, d_calls = [], t.next_batch, []
    t.next_batch = lambda: batches.append(next_batch()) or batches[-1]
    gan.discriminator.register_forward_pre_hook(lambda module, args: d_calls.append(1))
    t.train_step()
    assert len(batches) == 1 and len(d_calls) == 3

    (mel, real), G, D, c = batches[0], plain_gan.generator, plain_gan.discriminator, gan.config
    fake = G(mel)
    real_out, fake_out = D(real), D(fake.detach())
    d_loss = sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real_out, fake_out))
    plain_opt["discriminator"].zero_grad()
    d_loss.backward()
    plain_opt["discriminator"].step()
    fake_out = D(fake)
    weight = 1.0 / c.num_d * 4.0 / (c.d_layers + 1)
    fm = sum(weight * (f - r.detach()).abs().mean()
             for rs, fs in zip(real_out, fake_out) for r, f in zip(rs[:-1], fs[:-1]))
    g_loss = sum(-f[-1].mean() for f in fake_out) + c.fm_weight * fm
    plain_opt["generator"].zero_grad()
    g_loss.backward()
    plain_opt["generator"].step()
    for ours, plain in zip(gan.parameters(), plain_gan.parameters()):
        torch.testing.assert_close(ours, plain)


def test_without_a_shared_step_feature_matching_uses_the_current_discriminator():
    """Called on its own (as with several critic steps), G's loss scores the real batch with D as it is."""
    torch.manual_seed(0)
    gan = multigan.build("melgan", **TINY)
    wav = torch.rand(2, 1, 2048) * 2 - 1
    batch = (gan.mel(wav), wav)
    fake = gan.fake_batch(batch)
    shared = Step(fake=fake)
    gan.discriminator_loss(batch, shared)  # keeps its real features in that step only
    assert "real_features" in shared.kept
    with torch.no_grad():
        for p in gan.discriminator.parameters():
            p.add_(0.01)
    alone = gan.generator_loss(batch, Step())["feature_matching"]
    with torch.no_grad():
        real_out, fake_out = gan.discriminator(wav), gan.discriminator(gan.fake_batch(batch))
    weight = 1.0 / gan.config.num_d * 4.0 / (gan.config.d_layers + 1)
    expected = sum(weight * (f - r).abs().mean() for rs, fs in zip(real_out, fake_out) for r, f in zip(rs[:-1], fs[:-1]))
    assert alone.item() == pytest.approx(expected.item(), rel=1e-5)
