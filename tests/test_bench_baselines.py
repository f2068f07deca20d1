"""The benchmark baselines (multigan/baselines): the same networks as multigan's families
(parameter counts), training iterations that run and update the parameters, and no multigan
code in them."""

import ast
import dataclasses
from pathlib import Path

import pytest
import torch

import multigan
import multigan.baselines
from multigan.bench import load_baseline

FOLDER = Path(multigan.baselines.__file__).resolve().parent
SMALL = {
    "dcgan": dict(image_size=32, channels=1, latent_dim=16, g_width=8, d_width=8),
    "sngan": dict(image_size=32, channels=1, latent_dim=16, g_width=16, d_width=16, n_critic=2),
    "wavegan": dict(model_size=4, latent_dim=16, n_critic=2),
    "melgan": {"segment_length": 2048, "g_width": 4, "d_width": 4, "num_d": 2, "d_layers": 2,
               "residual_layers": 2, "mel.n_mels": 16},
    "hifigan": {"version": "v3", "initial_channels": 16, "mpd_width": 4, "msd_width": 16, "msd_scales": 2,
                "segment_length": 2048, "mel.n_mels": 16},
    "seqgan": dict(vocab_size=50, max_len=8, g_embed_dim=8, g_hidden_dim=8, d_embed_dim=8,
                   d_filter_sizes=(1, 2, 3), d_num_filters=(6, 6, 6), rollouts=2),
    "relgan": dict(vocab_size=50, max_len=8, g_embed_dim=8, mem_slots=2, num_heads=2, head_size=4, d_embed_dim=8,
                   d_representations=4, d_filter_sizes=(2, 3), d_num_filters=(6, 6), d_hidden=5, n_critic=2),
}
BATCH = 3


def load(name):
    """A baseline module, as ``multigan bench`` loads it."""
    module = load_baseline(name)
    assert module is not None, name
    return module


def config_of(name, **overrides):
    gan = multigan.build(name, **overrides)
    return gan, dataclasses.asdict(gan.config)


def test_the_package_lists_a_baseline_per_family():
    assert set(multigan.baselines.NAMES) == set(SMALL) == {p.stem for p in FOLDER.glob("*.py")} - {"__init__"}
    assert {name: load(name).UNIT for name in multigan.baselines.NAMES} == {
        "dcgan": "images/s", "sngan": "images/s", "wavegan": "seconds of audio/s", "melgan": "seconds of audio/s",
        "hifigan": "seconds of audio/s", "seqgan": "sequences/s", "relgan": "sequences/s"}
    assert load("dcgan").__name__ == "multigan.baselines.dcgan"


@pytest.mark.parametrize("name", ["nosuch", "__init__", "_private", "../dcgan", "dcgan.x", ""])
def test_a_family_without_a_baseline_gets_none(name):
    assert load_baseline(name) is None


def imported_modules(path):
    """Every module a file imports: absolute names, and ``.``-prefixed ones for relative imports."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.py")), ids=lambda p: p.name)
def test_a_baseline_imports_no_multigan_code(path):
    """They stand for a loop written by hand: no multigan module (not even a sibling baseline,
    or the package's own ``__init__`` through a relative import), nor the importlib back door."""
    names = imported_modules(path)
    assert names or path.name == "__init__.py", path     # the parse found the imports
    assert [n for n in names if n.startswith(".") or n.split(".")[0] == "multigan"] == []
    assert "importlib" not in {n.split(".")[0] for n in names}


def test_the_import_check_catches_multigan_imports(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom multigan.layers import Conv2d\nfrom . import dcgan\n"
                   "import multigan.losses as L\n")
    assert imported_modules(bad) == ["torch", "multigan.layers", ".", "multigan.losses"]


@pytest.mark.parametrize("name, overrides", [
    *[(name, {}) for name in SMALL],   # the papers' defaults
    *SMALL.items(),
    ("dcgan", dict(image_size=128, g_width=4, d_width=4)),
    ("sngan", dict(image_size=64, g_width=8, d_width=4)),
    ("sngan", dict(num_classes=0, g_width=8, d_width=4)),
    ("sngan", dict(num_classes=3, spectral_norm=False, channels=1, g_width=4, d_width=8)),
    ("wavegan", dict(model_size=2, segment_length=32768, phase_shuffle=0)),
    ("wavegan", dict(model_size=2, segment_length=65536)),
    ("wavegan", dict(model_size=2, post_filter_length=512)),
    ("melgan", {"upsample_ratios": (4, 4, 4, 4), "d_stride": 2, "d_width": 8}),
    ("hifigan", dict(version="v2", mpd_width=8, msd_width=32)),
    ("hifigan", dict(version="v1", initial_channels=64, upsample_rates=(4, 4, 4, 4), mpd_periods=(2, 3),
                     mpd_width=8, msd_scales=1, msd_width=16)),
    ("hifigan", dict(version="v3", upsample_rates=(8, 4, 8), mpd_width=2, msd_width=16, msd_scales=4)),
    ("seqgan", dict(d_filter_sizes=(2, 5), d_num_filters=(3, 7))),
    ("relgan", dict(mem_slots=3, num_heads=4, head_size=16, d_embed_dim=12, d_representations=3, d_hidden=7,
                    d_filter_sizes=(2, 5), d_num_filters=(3, 7))),
])
def test_parameter_counts_match_multigan(name, overrides):
    gan, config = config_of(name, **overrides)
    ours = tuple(sum(p.numel() for p in net.parameters()) for net in (gan.generator, gan.discriminator))
    assert load(name).parameter_counts(config) == ours


def recording(optimizer_class, made):
    """``optimizer_class`` that also appends every optimiser it makes to ``made``."""
    class Recording(optimizer_class):
        def __init__(self, params, **kwargs):
            super().__init__(params, **kwargs)
            made.append(self)
    return Recording


@pytest.mark.parametrize("name, step, overrides", [
    ("dcgan", "train", {}),
    ("sngan", "train", {}),
    ("sngan", "train", dict(n_critic=1, num_classes=0)),
    ("wavegan", "train", {}),
    ("wavegan", "train", dict(n_critic=1, phase_shuffle_per_batch=True)),
    ("melgan", "train", {}),
    ("melgan", "train", dict(n_critic=2, stft_loss_weight=1.0, mel_loss_weight=1.0)),
    ("hifigan", "train", {}),
    ("hifigan", "train", dict(n_critic=2, weight_decay=0.0)),
    ("seqgan", "pg", {}),
    ("seqgan", "pg", dict(ema_decay=0.8)),
    ("seqgan", "d", {}),
    ("relgan", "train", {}),
    ("relgan", "train", dict(n_critic=1, grad_clip_g=0.0, grad_clip_d=0.0)),
])
def test_two_iterations_update_the_parameters(name, step, overrides, monkeypatch):
    _, config = config_of(name, **{**SMALL[name], **overrides})
    made = []
    for kind in ("Adam", "AdamW"):  # HiFi-GAN's loop uses AdamW, the others Adam
        monkeypatch.setattr(torch.optim, kind, recording(getattr(torch.optim, kind), made))
    run, units = load(name).make_step(config, BATCH, "cpu", step)
    assert units > 0 and made
    params = [[p for group in opt.param_groups for p in group["params"]] for opt in made]
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
    _, config = config_of("hifigan", **SMALL["hifigan"])
    assert load("hifigan").make_step(config, BATCH, "cpu")[1] == BATCH * 2048 / 22050
    _, config = config_of("relgan", **SMALL["relgan"])
    assert load("relgan").make_step(config, BATCH, "cpu")[1] == BATCH  # sequences, as the text modality counts
    _, config = config_of("sngan", **SMALL["sngan"])
    assert load("sngan").make_step(config, BATCH, "cpu")[1] == BATCH  # images, as the image modality counts


def test_relgan_networks_compute_multigan_functions():
    """With multigan's weights copied in, the baseline's G and D give multigan's outputs: the same
    architecture, not only the same parameter counts (D's convolutions hold the same weights laid
    out for a 2-D convolution over the representations)."""
    torch.manual_seed(0)
    gan, config = config_of("relgan", **SMALL["relgan"])
    gen, disc = load("relgan")._networks(config)
    with torch.no_grad():
        for ours, theirs in [(gan.generator, gen), (gan.discriminator, disc)]:
            for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
                q.copy_(p if p.shape == q.shape else p.transpose(1, 2).unsqueeze(1))  # conv1d -> conv2d
    gan.eval(), gen.eval(), disc.eval()
    ids = torch.randint(50, (BATCH, 8))
    with torch.no_grad():
        expected = gan.discriminator(ids)
        assert expected.shape == (BATCH, 4)
        torch.testing.assert_close(disc(torch.nn.functional.one_hot(ids, 50).float()), expected)
        state, memory = None, gen.initial_memory(BATCH, torch.device("cpu"))
        for t in range(ids.shape[1]):
            expected, state = gan.generator.step(ids[:, t], state)
            logits, memory = gen(ids[:, t], memory)
            torch.testing.assert_close(logits, expected)


def test_hifigan_networks_compute_multigan_functions():
    """With multigan's weights (and spectral norm's vectors) copied in, the baseline's G and D give
    multigan's outputs. G holds its layers in the reference code's order (every upsampling, then
    every residual block), multigan by stage."""
    torch.manual_seed(0)
    gan, config = config_of("hifigan", **SMALL["hifigan"])
    gen, disc = load("hifigan")._networks(config)
    k = gen.num_kernels
    by_stage = [gen.conv_pre, *[m for i, up in enumerate(gen.ups) for m in (up, *gen.resblocks[i * k:(i + 1) * k])],
                gen.conv_post]
    with torch.no_grad():
        for p, q in zip(gan.generator.parameters(), [p for m in by_stage for p in m.parameters()], strict=True):
            q.copy_(p)
    disc.load_state_dict(dict(zip(disc.state_dict(), gan.discriminator.state_dict().values(), strict=True)))
    gan.eval(), gen.eval(), disc.eval()
    mel, wav = torch.randn(BATCH, 16, 8), 0.1 * torch.randn(BATCH, 1, 2048)
    with torch.no_grad():
        torch.testing.assert_close(gen(mel), gan.generator(mel))
        for theirs, ours in zip(disc(wav), gan.discriminator(wav), strict=True):
            for a, b in zip(theirs, ours, strict=True):
                torch.testing.assert_close(a, b)


def perturbed(net):
    """``net`` with every parameter moved off its initial value and BatchNorm's running
    statistics (and spectral norm's vectors) random, so that a copy that swapped two layers of
    the same shape would not compute the same function."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for name, b in net.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif b.is_floating_point():
                b.normal_()
    return net


def copied(theirs, ours):
    """``theirs`` holding the state of ``ours`` (parameters, BatchNorm statistics, spectral
    norm's vectors), matched in order: the baseline declares its layers in multigan's order."""
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values(), strict=True)))
    return theirs


@pytest.mark.parametrize("overrides", [{}, dict(num_classes=0), dict(num_classes=3, spectral_norm=False),
                                       dict(image_size=64, g_width=4, d_width=4)])
def test_sngan_networks_compute_multigan_functions(overrides):
    """With multigan's weights, BatchNorm statistics and spectral norm's vectors copied in, the
    baseline's G (conditional BatchNorm) and D (spectral norm, projection head) give multigan's
    outputs in training mode (batch statistics, one power iteration per forward, after which the
    states still agree) and in eval mode."""
    torch.manual_seed(0)
    gan, config = config_of("sngan", **{**SMALL["sngan"], **overrides})
    gen, disc = load("sngan")._networks(config)
    for theirs, ours in [(gen, gan.generator), (disc, gan.discriminator)]:
        copied(theirs, perturbed(ours))
    k, size = config["num_classes"], config["image_size"]
    z, x = torch.randn(BATCH, 16), torch.rand(BATCH, 1, size, size) * 2 - 1
    y = torch.tensor([0, 2, 1]) if k else None
    for train in (True, False):
        gan.train(train), gen.train(train), disc.train(train)
        with torch.no_grad():
            torch.testing.assert_close(gen(z, y), gan.generator(z, y))
            for _ in range(2):
                torch.testing.assert_close(disc(x, y), gan.discriminator(x, y))
        for theirs, ours in [(gen, gan.generator), (disc, gan.discriminator)]:
            for a, b in zip(theirs.state_dict().values(), ours.state_dict().values(), strict=True):
                torch.testing.assert_close(a, b)


def test_sngan_losses_are_multigans_hinge():
    from multigan.losses import discriminator_loss, generator_loss
    baseline = load("sngan")
    real, fake = torch.randn(7) * 2, torch.randn(7) * 2
    torch.testing.assert_close(baseline.d_hinge_loss(real, fake), discriminator_loss("hinge", real, fake))
    torch.testing.assert_close(baseline.g_hinge_loss(fake), generator_loss("hinge", fake))


@pytest.mark.parametrize("num_classes", [10, 0])
def test_sngan_generate_with_multigans_weights_makes_multigans_samples(num_classes, monkeypatch):
    """The plain forward ``multigan bench sngan --inference`` times, with multigan's weights,
    makes what ``gan.sample(n, seed=0)`` makes: the same latents (a fresh CPU generator seeded 0
    draws what the global one seeded 0 does) and the labels cycling through the classes."""
    torch.manual_seed(0)
    gan, config = config_of("sngan", **{**SMALL["sngan"], "num_classes": num_classes})
    perturbed(gan.generator)
    baseline = load("sngan")
    make = baseline._networks
    monkeypatch.setattr(baseline, "_networks", lambda c: (copied(make(c)[0], gan.generator), None))
    n = 12
    generate, units = baseline.make_generate(config, n, "cpu")
    torch.manual_seed(0)
    out = generate()
    assert units == n and out.shape == (n, 1, 32, 32)
    torch.testing.assert_close(out, gan.sample(n, seed=0))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_generate_makes_one_batch(name):
    """``make_generate``: the plain fp32 forward ``multigan bench --inference`` times, and its units."""
    gan, config = config_of(name, **SMALL[name])
    generate, units = load(name).make_generate(config, BATCH, "cpu", seconds=0.1)
    out = generate()
    if name in ("melgan", "hifigan"):
        frames = round(0.1 * 22050 / 256)
        assert out.shape == (BATCH, 1, frames * 256) and units == BATCH * frames * 256 / 22050
    else:
        assert out.shape == gan.sample(BATCH, seed=0).shape and units == BATCH
    assert out.dtype in (torch.float32, torch.int64) and not out.requires_grad


@pytest.mark.parametrize("name", ["melgan", "hifigan"])
def test_the_vocoders_generate_without_weight_norm(name):
    """The plain vocoders remove weight norm before generating, as the reference inference does;
    the outputs stay the same."""
    _, config = config_of(name, **SMALL[name])
    baseline = load(name)
    gen = baseline._networks(config)[0].eval()
    mel = torch.randn(BATCH, 16, 8)
    with torch.no_grad():
        before = gen(mel)
        baseline._remove_weight_norm(gen)
        assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in gen.modules())
        torch.testing.assert_close(gen(mel), before)


def test_steps_are_checked():
    _, config = config_of("seqgan", **SMALL["seqgan"])
    with pytest.raises(ValueError, match="'pg'.*'d'"):
        load("seqgan").make_step(config, BATCH, "cpu")
    _, config = config_of("dcgan", **SMALL["dcgan"])
    with pytest.raises(ValueError, match="'train'"):
        load("dcgan").make_step(config, BATCH, "cpu", "pg")
    _, config = config_of("sngan", **SMALL["sngan"])
    with pytest.raises(ValueError, match="'train'"):
        load("sngan").make_step(config, BATCH, "cpu", "d")
    _, config = config_of("sngan", **SMALL["sngan"], loss="least_squares")
    with pytest.raises(ValueError, match="'hinge'"):
        load("sngan").make_step(config, BATCH, "cpu")
    _, config = config_of("relgan", **SMALL["relgan"])
    with pytest.raises(ValueError, match="'train'"):
        load("relgan").make_step(config, BATCH, "cpu", "d")
