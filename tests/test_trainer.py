import copy
import json
import os

import pytest
import torch

import multigan
from multigan.errors import ConfigError, DataError, TrainingError
from multigan.gan import Phase
from multigan.losses import discriminator_loss, generator_loss
from multigan import files, runs

SMALL = dict(image_size=32, channels=1, g_width=8, d_width=8, latent_dim=16)


def small_gan(**overrides):
    torch.manual_seed(0)  # the same initial weights in every run of a test
    return multigan.build("dcgan", **{**SMALL, **overrides})


def trainer(gan, out, **kw):
    # fp32 unless a test asks otherwise: several tests compare with plain float32 loops
    settings = dict(data="digits", out_dir=out, batch_size=16, log_every=1, sample_every=0,
                    checkpoint_every=0, progress=False, precision="32")
    return multigan.Trainer(gan, **{**settings, **kw})


def records(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def losses_of(out):
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in records(out)]


def test_run_folder_layout(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=4, sample_every=2, checkpoint_every=2).fit()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt", "step-000002.pt", "step-000004.pt"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-000002.png", "step-000004.png"]
    config = json.loads((out / "config.json").read_text())
    assert config["name"] == "dcgan" and config["config"]["g_width"] == 8 and config["train"]["max_steps"] == 4
    assert [r["step"] for r in records(out)] == [1, 2, 3, 4]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("options", [
    dict(),
    dict(n_critic=2, ema_decay=0.9, grad_clip_g=1.0, grad_clip_d=1.0, loss="hinge"),
])
def test_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path, options):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    trainer(small_gan(**options), straight, max_steps=6, seed=3).fit()
    trainer(small_gan(**options), resumed, max_steps=3, seed=3, checkpoint_every=3).fit()
    # a fresh process would start from scratch: new GAN, new trainer, same folder
    gan = trainer(small_gan(**options), resumed, max_steps=6, seed=3).fit()
    assert losses_of(straight) == losses_of(resumed)
    a, b = multigan.load(straight), multigan.load(resumed)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    torch.testing.assert_close(a.sample(4, seed=1), gan.sample(4, seed=1), rtol=0, atol=0)


def test_resume_drops_metrics_logged_after_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=4, checkpoint_every=2).fit()
    # pretend the process died after step 4 was logged but before its checkpoint
    last = out / "checkpoints" / "last.pt"
    files.link_atomic(out / "checkpoints" / "step-000002.pt", last)
    trainer(small_gan(), out, max_steps=4).fit()
    assert [r["step"] for r in records(out)] == [1, 2, 3, 4]


def test_a_finished_run_is_not_trained_again(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=2).fit()
    t = trainer(small_gan(), out, max_steps=2)
    t.fit()
    assert t.step == 2 and len(records(out)) == 2


def test_resuming_with_another_config_is_refused(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=1).fit()
    with pytest.raises(ConfigError, match="g_width: 8 -> 16"):
        trainer(small_gan(g_width=16), out, max_steps=2).fit()


def test_non_finite_loss_raises_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    gan = small_gan()
    calls = {"n": 0}
    real_loss = gan.generator_loss

    def poisoned(batch, step):
        calls["n"] += 1
        losses = real_loss(batch, step)
        if calls["n"] == 4:
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(gan, "generator_loss", poisoned)
    with pytest.raises(TrainingError) as err:
        trainer(gan, out, max_steps=10, checkpoint_every=2).fit()
    assert "non-finite g loss nan at step 4" in str(err.value)
    assert "last.pt" in str(err.value)
    state = runs.load_state(out / "checkpoints" / "last.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_one_critic_step_shares_its_fake_batch_with_the_generator_update(tmp_path):
    """With n_critic = 1 a DCGAN step runs G forward once, and its two updates are exactly the
    plain loop's (pytorch/examples' order): D on the real batch and the detached fakes, then G
    back-propagating through those same fakes into the updated D."""
    gan = small_gan()
    t = trainer(gan, tmp_path / "run", max_steps=1)
    t.setup()
    plain_gan, plain_opt = copy.deepcopy((gan, t.optimizers))  # the same weights and Adam settings
    latents, batches, next_batch = [], [], t.next_batch
    gan.generator.register_forward_pre_hook(lambda module, args: latents.append(args[0].clone()))
    t.next_batch = lambda: batches.append(next_batch()) or batches[-1]
    t.train_step()
    assert len(latents) == 1 and len(batches) == 1

    G, D = plain_gan.generator, plain_gan.discriminator
    fake = G(latents[0])
    d_loss = discriminator_loss("non_saturating", D(batches[0]), D(fake.detach()))
    plain_opt["discriminator"].zero_grad()
    d_loss.backward()
    plain_opt["discriminator"].step()
    g_loss = generator_loss("non_saturating", D(fake))
    plain_opt["generator"].zero_grad()
    g_loss.backward()
    plain_opt["generator"].step()
    for ours, plain in zip(gan.parameters(), plain_gan.parameters()):
        torch.testing.assert_close(ours, plain)
    assert not torch.equal(next(gan.generator.parameters()), next(small_gan().generator.parameters()))


def test_several_critic_steps_draw_fresh_fakes(tmp_path):
    gan = small_gan(n_critic=3)
    calls = []
    gan.generator.register_forward_pre_hook(lambda module, args: calls.append(torch.is_grad_enabled()))
    t = trainer(gan, tmp_path / "run", max_steps=1)
    t.setup()
    t.train_step()
    assert calls == [False, False, False, True]  # three D updates without autograd through G, one G update


def test_checkpoints_load_with_weights_only_and_hold_everything(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(ema_decay=0.99), out, max_steps=2).fit()
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert {"generator", "discriminator", "generator_ema", "optimizers", "scalers", "step", "rng",
            "config", "data_position"} <= set(state)
    assert set(state["optimizers"]) == {"generator", "discriminator"}
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    assert state["step"] == 2 and state["data_position"] == 2  # one batch per step: D and G share it


def test_an_interrupted_checkpoint_write_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    files.save_atomic({"format": runs.FORMAT, "step": 1}, path)

    def dying_save(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        files.save_atomic({"format": runs.FORMAT, "step": 2}, path)
    assert runs.load_state(path)["step"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]


def test_corrupt_or_missing_checkpoints_name_the_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="bad.pt"):
        multigan.load(bad)
    with pytest.raises(DataError, match="has no checkpoint"):
        multigan.load(tmp_path)


def test_load_returns_the_trained_gan_with_ema(tmp_path):
    out = tmp_path / "run"
    gan = trainer(small_gan(ema_decay=0.9), out, max_steps=3).fit()
    loaded = multigan.load(out)
    assert loaded.generator_ema is not None and not loaded.training
    torch.testing.assert_close(loaded.sample(5, seed=2), gan.sample(5, seed=2))
    # sampling uses the EMA copy, which differs from the raw generator
    raw = loaded.generator(torch.zeros(1, 16))
    assert not torch.equal(raw, loaded.generator_ema(torch.zeros(1, 16)))


def test_bf16_mixed_precision_trains_on_cpu(tmp_path):
    trainer(small_gan(), tmp_path / "fp32", max_steps=2).fit()
    trainer(small_gan(), tmp_path / "bf16", max_steps=2, precision="bf16-mixed").fit()
    fp32, bf16 = losses_of(tmp_path / "fp32"), losses_of(tmp_path / "bf16")
    assert fp32 != bf16  # the networks really ran in bfloat16 ...
    for a, b in zip(fp32, bf16):  # ... and agree with float32 to bfloat16's precision
        assert a[1] == pytest.approx(b[1], rel=0.05) and a[2] == pytest.approx(b[2], rel=0.05)


def test_16_mixed_scales_each_network_on_its_own(tmp_path, monkeypatch):
    """An overflow in D's gradients skips D's step and halves D's scale only; G still steps.
    float16 autocast and GradScaler also run on the CPU, which lets this run without CUDA."""
    gan = small_gan()
    real_d_loss, real_g_loss = gan.discriminator_loss, gan.generator_loss

    def overflowing(batch, step):
        out = real_d_loss(batch, step)
        out["loss"] = out["loss"] * 1e36  # finite, but inf once scaled by 65536
        return out

    def small(batch, step):  # keeps G's scaled float16 gradients far from overflow
        out = real_g_loss(batch, step)
        out["loss"] = out["loss"] * 1e-3
        return out

    monkeypatch.setattr(gan, "discriminator_loss", overflowing)
    monkeypatch.setattr(gan, "generator_loss", small)
    t = trainer(gan, tmp_path / "run", max_steps=1)
    t.precision = "16-mixed"  # the constructor allows it on CUDA only
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    t.fit()
    assert t.scalers["discriminator"].get_scale() == 65536.0 / 2
    assert t.scalers["generator"].get_scale() == 65536.0
    assert all(torch.equal(a, b) for a, b in zip(d_before, gan.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, gan.generator.parameters()))


def test_non_finite_gradients_from_a_finite_loss_are_refused(tmp_path, monkeypatch):
    gan = small_gan()
    real_g_loss = gan.generator_loss

    def sqrt_of_zero(batch, step):
        # adds sqrt(0) = 0 to the loss, but its gradient is inf * 0 = nan
        out = real_g_loss(batch, step)
        out["loss"] = out["loss"] + (next(gan.generator.parameters()).sum() * 0).sqrt()
        return out

    monkeypatch.setattr(gan, "generator_loss", sqrt_of_zero)
    with pytest.raises(TrainingError, match="non-finite generator gradient .* at step 1"):
        trainer(gan, tmp_path / "run", max_steps=3).fit()


@pytest.mark.parametrize("kw, message", [
    (dict(precision="16"), "'precision': got '16', allowed: 'auto', '32', 'bf16-mixed', '16-mixed'"),
    (dict(precision="16-mixed", device="cpu"), "needs a CUDA device"),
    (dict(max_steps=0), "max_steps must be a whole number >= 1"),
    (dict(max_steps=-5), "max_steps must be a whole number >= 1, got -5"),
    (dict(batch_size=2.5), "'batch_size': got 2.5, expected an integer"),
    (dict(n_preview=0), "'n_preview': got 0, allowed: a value >= 1"),
    (dict(keep_checkpoints=-1), "'keep_checkpoints': got -1, allowed: a value >= 0"),
    (dict(kernels="fused"), "'kernels': got 'fused', allowed: 'auto', 'eager'"),
    (dict(lr=0.1), "unknown config key 'lr' for TrainSettings.*Valid keys: .*batch_size"),
])
def test_bad_trainer_arguments(tmp_path, kw, message):
    with pytest.raises(ConfigError, match=message):
        trainer(small_gan(), tmp_path, **{"max_steps": 1, **kw})


def test_batch_larger_than_the_dataset(tmp_path):
    with pytest.raises(DataError, match="fewer than one batch of 5000"):
        trainer(small_gan(), tmp_path / "run", max_steps=1, batch_size=5000).fit()


def test_unwritable_output_folder_is_reported_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot be written"):
        trainer(small_gan(), blocker / "run", max_steps=1).fit()


def test_mis_shaped_data_is_reported(tmp_path):
    wrong = torch.utils.data.TensorDataset(torch.zeros(32, 3, 32, 32))

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            return wrong[i][0]

    with pytest.raises(DataError, match=r"\(N, 1, 32, 32\), got \(\d+, 3, 32, 32\)"):
        trainer(small_gan(), tmp_path / "run", max_steps=1, data=Images()).fit()


def test_pretraining_phases_run_first_and_resume(tmp_path, monkeypatch):
    """A family's declared phases (like SeqGAN's MLE pre-training) run before adversarial steps."""
    def phases(self, batches_per_epoch):
        def g_only(batch, step):
            fake = self.generator(self.latent(batch.shape[0]))
            return {"loss": (fake - batch).pow(2).mean()}
        return [Phase("pretrain_g", "generator", 3, g_only)]

    monkeypatch.setattr(type(small_gan()), "phases", phases)
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=2).fit()
    phase_of = {r["step"]: r["phase"] for r in records(out)}
    assert phase_of == {1: "pretrain_g", 2: "pretrain_g", 3: "pretrain_g", 4: "adversarial", 5: "adversarial"}
    assert "pretrain_g_loss" in records(out)[0]

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    trainer(small_gan(), straight, max_steps=2).fit()
    trainer(small_gan(), resumed, max_steps=2, checkpoint_every=2).fit()  # 5 steps in all
    os.remove(resumed / "checkpoints" / "last.pt")
    files.link_atomic(resumed / "checkpoints" / "step-000002.pt", resumed / "checkpoints" / "last.pt")
    trainer(small_gan(), resumed, max_steps=2).fit()
    assert len(records(straight)) == len(records(resumed)) == 5
    assert records(straight) == [dict(r, steps_per_s=s["steps_per_s"]) for r, s in zip(records(resumed), records(straight))]


def test_ema_follows_generator_updates_in_pretraining_phases(tmp_path, monkeypatch):
    def phases(self, batches_per_epoch):
        def g_only(batch, step):
            return {"loss": (self.generator(self.latent(batch.shape[0])) - batch).pow(2).mean()}
        return [Phase("pretrain_g", "generator", 2, g_only)]

    monkeypatch.setattr(type(small_gan()), "phases", phases)
    gan = small_gan(ema_decay=0.5)
    initial = [p.detach().clone() for p in gan.generator.parameters()]
    seen = []
    real_g_loss = gan.generator_loss

    def snapshot_then_loss(batch, step):  # runs at the first adversarial step, after the phase
        seen.append([p.detach().clone() for p in gan.generator_ema.parameters()])
        return real_g_loss(batch, step)

    monkeypatch.setattr(gan, "generator_loss", snapshot_then_loss)
    trainer(gan, tmp_path / "run", max_steps=1).fit()
    assert not all(torch.equal(a, b) for a, b in zip(initial, seen[0]))


def test_resume_crosses_epochs_with_worker_processes(tmp_path):
    """A 48-image dataset at batch 16 has 3 batches per epoch: 6 steps of 2 batches cross 4 epochs."""
    from multigan.modalities.image.data import digits

    data = digits("train")
    small = torch.utils.data.Subset(data, range(48))
    kw = dict(data=small, seed=1, num_workers=1)
    trainer(small_gan(), tmp_path / "straight", max_steps=6, **kw).fit()
    trainer(small_gan(), tmp_path / "resumed", max_steps=4, checkpoint_every=4, **kw).fit()
    trainer(small_gan(), tmp_path / "resumed", max_steps=6, **kw).fit()
    assert losses_of(tmp_path / "straight") == losses_of(tmp_path / "resumed")


def test_resuming_with_another_batch_size_or_seed_is_refused(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=1).fit()
    with pytest.raises(ConfigError, match="batch_size: 16 -> 8"):
        trainer(small_gan(), out, max_steps=2, batch_size=8).fit()
    with pytest.raises(ConfigError, match="seed: 0 -> 1"):
        trainer(small_gan(), out, max_steps=2, seed=1).fit()


def test_old_periodic_checkpoints_are_pruned(tmp_path):
    out = tmp_path / "run"
    trainer(small_gan(), out, max_steps=5, checkpoint_every=1, keep_checkpoints=2).fit()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt", "step-000004.pt", "step-000005.pt"]
    assert runs.load_state(out / "checkpoints" / "last.pt")["step"] == 5


def test_metrics_go_to_tensorboard_when_it_is_installed(tmp_path, monkeypatch):
    """tensorboard is optional; a stand-in SummaryWriter checks what the trainer sends it."""
    import sys
    import types

    scalars = []

    class SummaryWriter:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", None))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    trainer(small_gan(), tmp_path / "run", max_steps=2).fit()
    assert ("d_loss", 1) in scalars and ("g_loss", 2) in scalars and scalars[-1] == ("closed", None)


def test_a_family_that_shares_fakes_must_make_them():
    with pytest.raises(TypeError, match="sets shares_fakes = True but defines no fake_batch"):
        class Sharing(multigan.GAN):
            shares_fakes = True


@pytest.mark.parametrize("generator_first", [False, True])
def test_update_order_follows_the_family(tmp_path, monkeypatch, generator_first):
    gan = small_gan(n_critic=2)
    monkeypatch.setattr(gan, "generator_first", generator_first)
    order = []
    for name in ("discriminator_loss", "generator_loss"):
        def recorded(batch, step, original=getattr(gan, name), name=name):
            order.append(name[0].upper())
            return original(batch, step)
        monkeypatch.setattr(gan, name, recorded)
    trainer(gan, tmp_path / "run", max_steps=2).fit()
    assert "".join(order) == ("GDDGDD" if generator_first else "DDGDDG")


def test_a_phase_may_train_at_a_learning_rate_of_its_own(tmp_path, monkeypatch):
    def phases(self, batches_per_epoch):
        def g_only(batch, step):
            return {"loss": (self.generator(self.latent(batch.shape[0])) - batch).pow(2).mean()}
        return [Phase("pretrain_g", "generator", 1, g_only, own_optimizer=True, lr=0.05)]

    monkeypatch.setattr(type(small_gan()), "phases", phases)
    t = trainer(small_gan(), tmp_path / "run", max_steps=1)
    t.setup()
    assert t.optimizers["pretrain_g"].param_groups[0]["lr"] == 0.05
    assert t.optimizers["generator"].param_groups[0]["lr"] == t.gan.config.lr_g
    with pytest.raises(ConfigError, match="own_optimizer=True"):
        Phase("p", "generator", 1, lambda batch, step: {}, lr=0.05)


def test_learning_rates_decay_linearly_over_the_last_fraction_and_resume_exactly(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    t = trainer(small_gan(), straight, max_steps=6, lr_decay=0.5, checkpoint_every=3, keep_checkpoints=0)
    t.fit()
    # constant for the first half, then 3/3, 2/3, 1/3 of lr_g and lr_d over the last three steps
    assert [r["lr_factor"] for r in records(straight)] == pytest.approx([1, 1, 1, 1, 2 / 3, 1 / 3])
    assert t.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(t.gan.config.lr_g / 3)
    assert t.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(t.gan.config.lr_d / 3)
    # the same run stopped at step 3 and resumed: the schedule goes on from the step count
    (resumed / "checkpoints").mkdir(parents=True)
    (resumed / "checkpoints" / "last.pt").write_bytes((straight / "checkpoints" / "step-000003.pt").read_bytes())
    trainer(small_gan(), resumed, max_steps=6, lr_decay=0.5).fit()
    assert [r["lr_factor"] for r in records(resumed)] == pytest.approx([1, 2 / 3, 1 / 3])
    a, b = multigan.load(straight), multigan.load(resumed)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)


def test_a_family_asking_for_weight_decay_gets_adamw(tmp_path, monkeypatch):
    """``gan.weight_decay(network)`` > 0: that network trains with AdamW (its phases' own
    optimisers too); 0, every built-in family but HiFi-GAN: plain Adam, as before."""
    t = trainer(small_gan(), tmp_path / "plain", max_steps=1)
    t.setup()
    assert [type(o) for o in t.optimizers.values()] == [torch.optim.Adam, torch.optim.Adam]

    def phases(self, batches_per_epoch):
        return [Phase("pretrain_g", "generator", 1, lambda batch, step: {}, own_optimizer=True)]

    monkeypatch.setattr(type(small_gan()), "weight_decay", lambda self, network: 0.1 if network == "generator" else 0)
    monkeypatch.setattr(type(small_gan()), "phases", phases)
    t = trainer(small_gan(), tmp_path / "decayed", max_steps=1)
    t.setup()
    g, d, pre = t.optimizers["generator"], t.optimizers["discriminator"], t.optimizers["pretrain_g"]
    assert type(g) is torch.optim.AdamW and g.defaults["weight_decay"] == 0.1
    assert type(pre) is torch.optim.AdamW and pre.defaults["weight_decay"] == 0.1
    assert type(d) is torch.optim.Adam and g.defaults["betas"] == t.gan.config.betas_g


def test_a_familys_own_schedule_multiplies_lr_decay_and_resumes_exactly(tmp_path, monkeypatch):
    """``gan.lr_factor(step, batches_per_epoch)`` scales both learning rates before each
    adversarial step, times the ``lr_decay`` setting's factor; a resumed run continues both."""
    calls = []

    def lr_factor(self, step, batches_per_epoch):
        calls.append((step, batches_per_epoch))
        return 0.5 ** step

    monkeypatch.setattr(type(small_gan()), "lr_factor", lr_factor)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    t = trainer(small_gan(), straight, max_steps=4, lr_decay=0.5, checkpoint_every=2, keep_checkpoints=0)
    t.fit()
    # the family's 1, 1/2, 1/4, 1/8 times lr_decay's 1, 1, 1, 1/2
    assert [r["lr_factor"] for r in records(straight)] == [1, 0.5, 0.25, 0.0625]
    assert calls == [(s, t.stream.batches_per_epoch) for s in range(4)]
    assert t.optimizers["discriminator"].param_groups[0]["lr"] == t.gan.config.lr_d * 0.0625
    (resumed / "checkpoints").mkdir(parents=True)
    (resumed / "checkpoints" / "last.pt").write_bytes((straight / "checkpoints" / "step-000002.pt").read_bytes())
    trainer(small_gan(), resumed, max_steps=4, lr_decay=0.5).fit()
    assert [r["lr_factor"] for r in records(resumed)] == [0.25, 0.0625]
    a, b = multigan.load(straight), multigan.load(resumed)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
