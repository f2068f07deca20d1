"""precision="auto": bf16-mixed where it is native, fp32 elsewhere; said, recorded and kept on resume.

The selection is a pure function of the device type and the capability flags, so both branches
are tested here on any machine; one test runs a real bf16 step on whatever CPU runs the suite
(its correctness only, never its speed)."""

import json

import pytest
import torch

import multigan
from multigan import precision
from multigan.errors import ConfigError, MultiganWarning
from multigan.precision import CPUInfo, choose_precision, resolve_precision

SMALL = dict(image_size=32, channels=1, g_width=8, d_width=8, latent_dim=16)
AVX2 = CPUInfo(capability="AVX2", bf16_native=False, model="AMD EPYC (test)", threads=2)
AVX512_BF16 = CPUInfo(capability="AVX512", bf16_native=True, model="AMD EPYC (test)", threads=2)


@pytest.mark.parametrize("device, flags, expected, reason", [
    ("cpu", dict(cpu_bf16_native=True, cpu_capability="AVX512"), "bf16-mixed", "runs bf16 natively: AVX512"),
    ("cpu", dict(cpu_bf16_native=False, cpu_capability="AVX2"), "32", "emulates bf16: AVX2"),
    ("cuda", dict(cuda_bf16=True), "bf16-mixed", "supports bf16"),
    ("cuda", dict(cuda_bf16=False), "32", "does not support bf16"),
    ("mps", dict(cpu_bf16_native=True), "32", "not used on mps"),
])
def test_choose_precision_covers_every_branch(device, flags, expected, reason):
    chosen, why = choose_precision(device, **flags)
    assert chosen == expected and reason in why


def test_auto_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX2)
    assert resolve_precision("auto", torch.device("cpu")) == ("32", "this CPU emulates bf16: AVX2", None)
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX512_BF16)
    assert resolve_precision("auto", torch.device("cpu"))[0] == "bf16-mixed"


def test_explicit_bf16_on_an_emulating_cpu_runs_with_one_warning(monkeypatch):
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX2)
    chosen, reason, warning = resolve_precision("bf16-mixed", torch.device("cpu"))
    assert chosen == "bf16-mixed" and reason is None
    assert "emulates bf16 (AVX2)" in warning and "--precision 32" in warning and "\n" not in warning
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX512_BF16)
    assert resolve_precision("bf16-mixed", torch.device("cpu")) == ("bf16-mixed", None, None)


def test_16_mixed_stays_an_error_off_cuda():
    with pytest.raises(ConfigError, match="'16-mixed' needs a CUDA device"):
        resolve_precision("16-mixed", torch.device("cpu"))


def _train(out, steps=2, **settings):
    torch.manual_seed(0)
    gan = multigan.build("dcgan", **SMALL)
    trainer = multigan.Trainer(gan, out_dir=out, max_steps=steps, batch_size=8, sample_every=0,
                               checkpoint_every=0, log_every=1, progress=False, **settings)
    trainer.fit()
    return trainer


def test_training_on_an_avx2_cpu_picks_fp32_says_why_and_records_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX2)
    trainer = _train(tmp_path / "run")
    assert trainer.precision == "32"
    assert "multigan: precision: 32 (this CPU emulates bf16: AVX2)" in capsys.readouterr().err
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["precision"] == "auto"    # a repeat elsewhere chooses for its machine
    assert record["precision"] == {"ran": "32", "reason": "this CPU emulates bf16: AVX2"}
    assert multigan.runs.load_state(tmp_path / "run" / "checkpoints" / "last.pt")["train"]["precision"] == "32"


def test_explicit_bf16_on_an_avx2_cpu_warns_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX2)
    with pytest.warns(MultiganWarning, match="emulates bf16") as caught:
        trainer = _train(tmp_path / "run", steps=1, precision="bf16-mixed")
    assert trainer.precision == "bf16-mixed" and len(caught) == 1


def test_a_resumed_run_keeps_its_precision_unless_asked(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX512_BF16)
    assert _train(out, steps=1).precision == "bf16-mixed"
    monkeypatch.setattr(precision, "cpu_info", lambda: AVX2)   # the same run, continued on another machine
    with pytest.warns(MultiganWarning, match="emulates bf16"):  # ... which emulates bf16: said once
        resumed = _train(out, steps=2)
    assert resumed.precision == "bf16-mixed" and "started with" in resumed.precision_reason
    assert _train(out, steps=3, precision="32").precision == "32"   # asked for explicitly


def test_a_real_bf16_step_on_this_cpu_is_correct(tmp_path):
    """Whatever this CPU offers (native or emulated), a bf16-mixed step runs and its losses
    agree with float32's to bfloat16's precision (its speed is the benchmarks' business)."""
    fp32 = _train(tmp_path / "fp32", steps=1, precision="32")
    bf16 = _train(tmp_path / "bf16", steps=1, precision="bf16-mixed")
    assert bf16.precision == "bf16-mixed"
    read = [json.loads((t.out_dir / "metrics.jsonl").read_text().splitlines()[0]) for t in (fp32, bf16)]
    for key in ("d_loss", "g_loss"):
        assert read[0][key] != read[1][key]                    # the networks really ran in bfloat16
        assert read[1][key] == pytest.approx(read[0][key], rel=0.05)


@pytest.mark.parametrize("name, overrides, make_input", [
    ("wavegan", dict(model_size=2, segment_length=4096), lambda gan: gan.latent(3)),
    ("melgan", dict(g_width=2, residual_layers=1), lambda gan: torch.randn(3, 80, 4)),
])
def test_audio_generators_write_float32_waveforms_under_bf16(name, overrides, make_input):
    """The output layer runs in float32 under autocast: a bf16 waveform would carry rounding noise
    near -50 dB, which D hears and G cannot remove (WaveGAN's reduced notes run: score 1.64 and
    fd 0.88 x untrained with a bf16 output layer, 2.55 and 0.79 with a float32 one)."""
    torch.manual_seed(0)
    gan = multigan.build(name, **overrides)
    x = make_input(gan)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        wave = gan.generator(x)
    assert wave.dtype == torch.float32
    assert not torch.equal(wave, wave.bfloat16().float())   # finer than bf16 can hold
    assert torch.equal(gan.generator(x), gan.generator(x))   # and outside autocast, plain float32
