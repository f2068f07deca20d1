"""HiFi-GAN: the paper's three generators, its two discriminators, its losses and its schedule."""

import copy
import json

import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

import multigan
from multigan import Step
from multigan.cli import main
from multigan.errors import ConfigError
from multigan.modalities.audio.data import MelPairs, notes
from multigan.modalities.audio.hifigan import ResBlock1, ResBlock2, fold_by_period

TINY = {"mel.sample_rate": 16000, "mel.n_fft": 64, "mel.win_length": 64, "mel.hop_length": 16, "mel.n_mels": 8,
        "upsample_rates": (4, 4), "initial_channels": 8, "segment_length": 256, "mpd_periods": (2, 3),
        "mpd_width": 2, "msd_scales": 2, "msd_width": 16}


def tiny(**overrides):
    torch.manual_seed(0)  # the same initial weights in every run of a test
    return multigan.build("hifigan", **{**TINY, **overrides})


def plain_count(net: nn.Module) -> int:
    """Parameters of ``net`` with weight norm folded into the weights, as at inference."""
    net = copy.deepcopy(net)
    for m in net.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight")
    return sum(p.numel() for p in net.parameters())


def test_generator_maps_80_by_32_mel_to_8192_samples():
    gan = multigan.build("hifigan")
    assert gan.generator(torch.randn(1, 80, 32)).shape == (1, 1, 8192)


@pytest.mark.parametrize("version, trained, inference, paper", [
    ("v1", 13_936_130, 13_926_017, 13.92),
    ("v2", 928_514, 925_985, 0.92),
    ("v3", 1_464_322, 1_462_273, 1.46),
])
def test_generator_sizes_are_the_papers(version, trained, inference, paper):
    """The paper's sizes are the inference network's (weight norm folded), cut to two decimals;
    trained, each weight-normed layer has one magnitude per output channel more."""
    gan = multigan.build("hifigan", version=version)
    assert sum(p.numel() for p in gan.generator.parameters()) == trained
    assert plain_count(gan.generator) == inference
    assert int(inference / 1e4) / 100 == paper


def test_versions_are_the_papers():
    v1, v3 = multigan.build("hifigan").generator, multigan.build("hifigan", version="v3").generator
    ups = [[m for m in g.modules() if isinstance(m, nn.ConvTranspose1d)] for g in (v1, v3)]
    assert [(u.kernel_size[0], u.stride[0]) for u in ups[0]] == [(16, 8), (16, 8), (4, 2), (4, 2)]
    assert [(u.kernel_size[0], u.stride[0]) for u in ups[1]] == [(16, 8), (16, 8), (8, 4)]
    assert ups[0][0].in_channels == 512 and ups[1][0].in_channels == 256
    assert multigan.build("hifigan", version="v2").generator.pre.out_channels == 128
    mrf = v1.stages[0][2].blocks
    assert all(isinstance(b, ResBlock1) for b in mrf)
    assert [[(c.kernel_size[0], c.dilation[0]) for c in b.dilated] for b in mrf] == [
        [(k, 1), (k, 3), (k, 5)] for k in (3, 7, 11)]
    mrf = v3.stages[0][2].blocks
    assert all(isinstance(b, ResBlock2) for b in mrf)
    assert [[(c.kernel_size[0], c.dilation[0]) for c in b.convs] for b in mrf] == [
        [(3, 1), (3, 2)], [(5, 2), (5, 6)], [(7, 3), (7, 12)]]


def test_defaults_are_the_papers():
    c = multigan.build("hifigan").config
    mel = (c.mel.sample_rate, c.mel.n_fft, c.mel.hop_length, c.mel.win_length, c.mel.n_mels)
    assert mel == (22050, 1024, 256, 1024, 80)
    assert c.mel.log_base == "e" and c.version == "v1" and c.segment_length == 8192 and c.batch_size == 16
    assert (c.mpd_periods, c.msd_scales, c.fm_weight, c.mel_weight) == ((2, 3, 5, 7, 11), 3, 2.0, 45.0)
    assert (c.lr_g, c.lr_d, c.betas_g, c.betas_d) == (2e-4, 2e-4, (0.8, 0.99), (0.8, 0.99))
    assert (c.weight_decay, c.lr_decay_per_epoch) == (0.01, 0.999)


def test_discriminators_and_their_norms():
    D = multigan.build("hifigan").discriminator
    outs = D(torch.randn(2, 1, 8192))
    assert len(outs) == 5 + 3
    assert [o[-1].shape[-1] for o in outs[:5]] == [2, 3, 5, 7, 11]     # one score column per phase
    assert [o[-1].shape[-1] for o in outs[5:]] == [128, 64, 32]        # the 1x, 2x, 4x pooled waveform
    assert [len(o) for o in outs] == [6] * 5 + [8] * 3
    assert [c.out_channels for c in D.mpd[0].convs] == [32, 128, 512, 1024, 1024]
    msd = [[layer if isinstance(layer, nn.Conv1d) else layer[1] for layer in s.layers] for s in D.msd.scales]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0], c.groups) for c in msd[0]] == [
        (128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16), (1024, 41, 4, 16),
        (1024, 41, 1, 16), (1024, 5, 1, 1), (1, 3, 1, 1)]
    kinds = [{type(p).__name__ for c in scale for p in c.parametrizations.weight} for scale in msd]
    assert kinds == [{"_SpectralNorm"}, {"_WeightNorm"}, {"_WeightNorm"}]
    others = [m for m in [*D.mpd.modules(), *multigan.build("hifigan").generator.modules()]
              if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d))]
    assert others and all(type(m.parametrizations.weight[0]).__name__ == "_WeightNorm" for m in others)


@pytest.mark.parametrize("period", [2, 3, 5, 7, 11])
@pytest.mark.parametrize("length", [22, 33])
def test_the_mpd_folds_each_example_by_its_period(period, length):
    x = torch.randn(3, 1, length)
    folded = fold_by_period(x, period)
    rows = -(-length // period)
    assert folded.shape == (3, 1, rows, period)
    for n in range(3):   # each example by hand: reflect-pad its end to whole periods, then row-major
        wave = x[n, 0].tolist()
        padded = wave + [wave[length - 2 - i] for i in range(rows * period - length)]
        expected = torch.tensor(padded).reshape(rows, period)
        assert torch.equal(folded[n, 0], expected)


def test_each_period_column_is_heard_on_its_own():
    """The MPD's kernels span rows only: changing the samples of one phase of the period changes
    that column of every layer's output and no other."""
    torch.manual_seed(0)
    d = multigan.build("hifigan", **TINY).discriminator.mpd[1]   # period 3
    x = torch.randn(1, 1, 240)
    y = x.clone()
    y[..., 1::3] += 1.0
    with torch.no_grad():
        for a, b in zip(d(x), d(y)):
            changed = (a != b).any(dim=2).flatten(0, 1).any(dim=0)
            assert changed.tolist() == [False, True, False]


class StubDiscriminator(nn.Module):
    """Two sub-discriminators of known outputs: [2w, mean(w)] and [w + 1, 3w, 2 mean(w)]."""

    def forward(self, w):
        m = w.mean(dim=-1, keepdim=True)
        return [[2 * w, m], [w + 1, 3 * w, 2 * m]]


def test_losses_against_hand_computed_values():
    gan = tiny()
    gan.discriminator = StubDiscriminator()
    real, fake = torch.full((2, 1, 256), 0.5), torch.full((2, 1, 256), -0.25)
    mel = gan.mel(real)
    # D: (0.5 - 1)^2 + (-0.25)^2 for the first, (1 - 1)^2 + (-0.5)^2 for the second
    d = gan.discriminator_loss((mel, real), Step(fake=fake))
    assert d["loss"].item() == pytest.approx(0.25 + 0.0625 + 0 + 0.25)
    g = gan.generator_loss((mel, real), Step(fake=fake))
    assert g["adversarial"].item() == pytest.approx((-0.25 - 1) ** 2 + (-0.5 - 1) ** 2)
    # |1 - (-0.5)| + |0.5 - (-0.25)| + |1.5 - 0.75| + |1.5 - (-0.75)| + |1 - (-0.5)|: every layer
    assert g["feature_matching"].item() == pytest.approx(1.5 + 0.75 + 0.75 + 2.25 + 1.5)
    by_hand = (gan.mel(fake) - mel).abs().mean()
    assert g["mel"].item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert g["loss"].item() == pytest.approx(3.8125 + 2 * 6.75 + 45 * by_hand.item(), rel=1e-6)


def test_sampling_needs_a_mel():
    gan = tiny()
    with pytest.raises(ConfigError, match="call sample\\(cond=mel\\)"):
        gan.sample(2)
    with pytest.raises(ConfigError, match="\\(N, 8, frames\\)"):
        gan.sample(cond=torch.zeros(1, 40, 8))
    with pytest.raises(ConfigError, match="sample\\(n=3\\) disagrees"):
        gan.sample(3, cond=torch.zeros(2, 8, 4))
    wav = torch.rand(2, 1, 512) * 2 - 1
    assert gan.sample(cond=gan.mel(wav), seed=0).shape == (2, 1, 512)


@pytest.mark.parametrize("overrides, message", [
    ({"version": "v4"}, "config key 'version': got 'v4', allowed: 'v1', 'v2', 'v3'"),
    ({"mel.hop_length": 300}, "upsample_rates \\(8, 8, 2, 2\\) multiply to 256, but mel.hop_length is 300"),
    ({"version": "v3", "upsample_rates": (8, 8, 2, 2), "initial_channels": 8}, "cannot be halved 4 times"),
    ({"segment_length": 8000}, "use 7936"),
    ({"msd_width": 24}, "msd_width 24 is not a multiple of 16"),
    ({"lr_decay_per_epoch": 1.5}, "'lr_decay_per_epoch': got 1.5"),
])
def test_bad_settings_say_what_to_change(overrides, message):
    with pytest.raises(ConfigError, match=message):
        multigan.build("hifigan", **overrides)


def few_notes(gan, n=4):
    """``n`` training notes as (mel, wav) pairs: with batch 2, an epoch is n / 2 steps."""
    return MelPairs(notes("train", gan.sample_rate, gan.segment_length, size=n), gan.mel_config)


def run(gan, out, **kw):
    settings = dict(batch_size=2, log_every=1, sample_every=0, checkpoint_every=0, progress=False, precision="32")
    return multigan.Trainer(gan, data=few_notes(gan), out_dir=out, **{**settings, **kw})


def records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def timeless(logs):
    return [{k: v for k, v in r.items() if k != "steps_per_s"} for r in logs]


def test_the_trainer_uses_adamw_decayed_once_per_epoch(tmp_path):
    gan = tiny(lr_decay_per_epoch=0.5)
    t = run(gan, tmp_path / "run", max_steps=5)
    t.fit()
    for name in ("generator", "discriminator"):
        opt = t.optimizers[name]
        assert type(opt) is torch.optim.AdamW
        assert (opt.defaults["weight_decay"], opt.defaults["betas"]) == (0.01, (0.8, 0.99))
        assert opt.param_groups[0]["lr"] == 2e-4 * 0.25   # the fifth step is in the third epoch
    assert [r["lr_factor"] for r in records(tmp_path / "run")] == [1, 1, 0.5, 0.5, 0.25]


def test_a_training_step_is_the_papers(tmp_path):
    """One adversarial step by hand: G vocodes the batch once; D's AdamW step on the least-squares
    loss; G's AdamW step on the least-squares loss with the updated D, feature matching against
    the updated D's real features, and the mel L1."""
    gan = tiny()
    t = run(gan, tmp_path / "run", max_steps=1)
    t.setup()
    plain_gan = copy.deepcopy(gan)
    opts = {k: torch.optim.AdamW(getattr(plain_gan, k).parameters(), lr=2e-4, betas=(0.8, 0.99), weight_decay=0.01)
            for k in ("generator", "discriminator")}
    batches, next_batch = [], t.next_batch
    t.next_batch = lambda: batches.append(next_batch()) or batches[-1]
    t.train_step()
    assert len(batches) == 1

    (mel, real), G, D = batches[0], plain_gan.generator, plain_gan.discriminator
    fake = G(mel)
    d_loss = sum(((r[-1] - 1) ** 2).mean() + (f[-1] ** 2).mean() for r, f in zip(D(real), D(fake.detach())))
    opts["discriminator"].zero_grad()
    d_loss.backward()
    opts["discriminator"].step()
    fake_out = D(fake)
    with torch.no_grad():
        real_out = D(real)
    adversarial = sum(((f[-1] - 1) ** 2).mean() for f in fake_out)
    fm = sum((f - r).abs().mean() for rs, fs in zip(real_out, fake_out) for r, f in zip(rs, fs))
    g_loss = adversarial + 2 * fm + 45 * F.l1_loss(plain_gan.mel(fake), mel)
    opts["generator"].zero_grad()
    g_loss.backward()
    opts["generator"].step()
    for ours, plain in zip(gan.state_dict().values(), plain_gan.state_dict().values()):
        torch.testing.assert_close(ours, plain)


def test_resume_is_bitwise_and_keeps_the_epoch_schedule(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(tiny(lr_decay_per_epoch=0.5), straight, max_steps=4).fit()
    run(tiny(lr_decay_per_epoch=0.5), resumed, max_steps=3, checkpoint_every=3).fit()
    run(tiny(lr_decay_per_epoch=0.5), resumed, max_steps=4).fit()   # a fresh GAN and trainer, same folder
    assert timeless(records(straight)) == timeless(records(resumed))
    assert [r["lr_factor"] for r in records(resumed)] == [1, 1, 0.5, 0.5]
    a, b = multigan.load(straight), multigan.load(resumed)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)


def test_trains_on_notes_from_the_command_line_and_resynthesises_a_file(tmp_path, capsys):
    out = tmp_path / "run"
    tiny_set = ["initial_channels=16", "mpd_width=2", "msd_scales=1", "msd_width=16", "segment_length=2048"]
    assert main(["train", "hifigan", "--data", "notes", "--steps", "1", "--batch-size", "2", "--out", str(out),
                 "--no-progress", *[a for s in tiny_set for a in ("--set", s)]]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["data"] == "notes"   # speech is the default
    assert {"step-000001-000.wav", "step-000001-000.png"} <= {p.name for p in (out / "samples").iterdir()}
    t = torch.arange(22050) / 22050
    sf.write(tmp_path / "in.wav", (0.5 * torch.sin(2 * torch.pi * 440 * t)).numpy(), 22050)
    assert main(["sample", str(out), "--cond", str(tmp_path / "in.wav"), "--out", str(tmp_path / "out.wav")]) == 0
    data, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and data.shape == (22050 // 256 * 256,)


def test_options_show_the_familys_own_mel_defaults(capsys):
    assert main(["list", "--options", "hifigan"]) == 0
    out = capsys.readouterr().out
    assert 'mel.log_base        a string, default "e"' in out and "lr_decay_per_epoch" in out
