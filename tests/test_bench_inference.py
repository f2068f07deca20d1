"""multigan bench --inference: generation rows for every family beside a plain fp32 forward of
the same generator, vocoders in x real time; weight-norm folding that leaves outputs unchanged.
No timing is asserted: speed is measured in benchmarks/, not here."""

import json

import pytest
import torch
from torch.nn.utils import parametrize

import multigan
import multigan.baselines
import multigan.bench
import multigan.bench_inference
from multigan.bench_inference import bench_inference, format_table, is_vocoder
from multigan.cli import main
from multigan.inference import fold_parametrizations, inference_copy
from multigan.precision import CPUInfo

# small enough for a 2-core CPU; the real benchmark uses each family's defaults
TINY = {
    "dcgan": {"image_size": 32, "channels": 1, "g_width": 8, "d_width": 8},
    "sngan": {"channels": 1, "g_width": 8, "d_width": 8, "latent_dim": 8},
    "wavegan": {"model_size": 2},
    "melgan": {"g_width": 4, "d_width": 4, "num_d": 1, "residual_layers": 2},
    "hifigan": {"version": "v3", "initial_channels": 16, "mpd_width": 4, "msd_width": 16, "msd_scales": 2,
                "segment_length": 2048},
    "seqgan": {"vocab_size": 50, "g_embed_dim": 8, "g_hidden_dim": 8},
    "relgan": {"vocab_size": 50, "mem_slots": 1, "num_heads": 2, "head_size": 8},
}
SECONDS = 0.1  # of audio per vocoded mel: round(0.1 * 22050 / 256) = 9 frames
KEYS = {"family", "batch_size", "unit", "throughput", "median_s", "baseline_throughput", "baseline_median_s",
        "speedup", "input_seconds", "precision", "precision_requested", "kernels", "device", "machine",
        "cpu_capability", "bf16_native", "cpu_model", "cpu_threads", "torch", "date"}
#: a 2-core AVX2 CPU, where oneDNN emulates bf16
AVX2 = CPUInfo(capability="AVX2", bf16_native=False, model="AMD EPYC 7B12", threads=2)


def no_parametrizations(module):
    return not any(parametrize.is_parametrized(m) for m in module.modules())


def test_every_registered_family_has_a_plain_baseline():
    assert set(multigan.list_models()) == set(TINY) == set(multigan.baselines.NAMES)
    assert all(multigan.bench.load_baseline(name) is not None for name in TINY)


def test_a_family_without_a_plain_baseline_gets_rows_that_say_so(monkeypatch):
    monkeypatch.setattr(multigan.bench_inference, "load_baseline", lambda name: None)
    rows = bench_inference("dcgan", batch_sizes=(1,), precisions=("32",), steps=1, warmup=0, overrides=TINY["dcgan"])
    assert rows[0]["throughput"] > 0 and rows[0]["baseline_throughput"] is None and rows[0]["speedup"] is None
    assert "| n/a | n/a |" in format_table(rows)


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_family_gets_rows_beside_its_plain_forward(name):
    rows = bench_inference(name, batch_sizes=(1, 2), steps=1, warmup=0, overrides=TINY[name], seconds=SECONDS)
    assert [(r["batch_size"], r["precision"]) for r in rows] == [
        (1, "32"), (1, "bf16-mixed"), (2, "32"), (2, "bf16-mixed")]
    vocoder = name in ("melgan", "hifigan")
    for row in rows:
        assert KEYS <= set(row) and row["precision"] == row["precision_requested"]
        assert (row["family"], row["kernels"], row["device"]) == (name, "auto", "cpu")
        assert row["throughput"] > 0 and row["baseline_throughput"] > 0
        assert row["speedup"] == pytest.approx(row["throughput"] / row["baseline_throughput"])
        assert row["baseline_throughput"] == pytest.approx(
            row["batch_size"] * (row["input_seconds"] or 1) / row["baseline_median_s"])
        if vocoder:  # the real-time factor: seconds of audio made per second
            assert row["unit"] == "x real time" and row["input_seconds"] == 9 * 256 / 22050
            assert row["throughput"] == pytest.approx(row["batch_size"] * row["input_seconds"] / row["median_s"])
        else:
            assert row["unit"] == "samples/s" and row["input_seconds"] is None
            assert row["throughput"] == pytest.approx(row["batch_size"] / row["median_s"])
        json.dumps(row)  # the row is JSON as it is


def test_defaults_time_batch_1_and_a_throughput_batch_in_fp32_and_bf16():
    rows = bench_inference("hifigan", steps=1, warmup=0, overrides=TINY["hifigan"], seconds=SECONDS, baseline=False)
    assert [(r["batch_size"], r["precision"]) for r in rows] == [
        (1, "32"), (1, "bf16-mixed"), (8, "32"), (8, "bf16-mixed")]
    assert all(r["baseline_throughput"] is None and r["speedup"] is None for r in rows)
    assert "| hifigan | 8 | x real time |" in format_table(rows) and "| n/a | n/a |" in format_table(rows)
    rows = bench_inference("dcgan", precisions=("32",), steps=1, warmup=0, overrides=TINY["dcgan"], baseline=False)
    assert [r["batch_size"] for r in rows] == [1, 64]


def test_bf16_on_a_cpu_that_emulates_it_is_measured_and_marked(monkeypatch):
    monkeypatch.setattr(multigan.bench, "cpu_info", lambda: AVX2)
    (row,) = bench_inference("melgan", batch_sizes=(1,), precisions=("bf16-mixed",), steps=1, warmup=0,
                             overrides=TINY["melgan"], seconds=SECONDS, baseline=False)
    assert (row["precision"], row["bf16_native"], row["cpu_capability"]) == ("bf16-mixed", False, "AVX2")
    assert "| bf16-mixed (emulated) |" in format_table([row])


@pytest.mark.parametrize("name", ["melgan", "hifigan"])
def test_folding_weight_norm_keeps_the_outputs_and_leaves_no_parametrizations(name):
    gan = multigan.build(name, **TINY[name])
    assert is_vocoder(gan) and not no_parametrizations(gan.generator)
    mel = torch.randn(2, 80, 9)
    folded = fold_parametrizations(gan.generator)
    assert no_parametrizations(folded) and not folded.training
    assert not any(p.requires_grad for p in folded.parameters())
    # every weight is a plain parameter again, however the original was frozen or called
    weights = {n for n, _ in gan.generator.named_parameters() if n.endswith(".bias")}
    weights |= {n.replace(".parametrizations.weight.original0", ".weight") for n, _ in gan.generator.named_parameters()
                if n.endswith("original0")}
    with torch.inference_mode():
        frozen = fold_parametrizations(gan.generator.requires_grad_(False))
    gan.generator.requires_grad_(True)
    for net in (folded, frozen):
        assert {n for n, _ in net.named_parameters()} == weights and not list(net.buffers())
    with torch.no_grad():
        torch.testing.assert_close(folded(mel), gan.generator.eval()(mel))
        torch.testing.assert_close(frozen(mel), folded(mel))
    # the original keeps its weight norm and still runs (a deep copy shares its layers' classes)
    assert not no_parametrizations(gan.generator)
    gan.generator(mel)

    fast = inference_copy(gan)
    assert no_parametrizations(fast.generator) and fast.discriminator is gan.discriminator
    torch.testing.assert_close(fast.sample(cond=mel, seed=0), gan.sample(cond=mel, seed=0))
    gan.add_ema()  # a trained GAN samples from its EMA generator: that one is folded too
    fast = inference_copy(gan)
    assert fast.sampling_generator is fast.generator_ema and no_parametrizations(fast.generator_ema)
    torch.testing.assert_close(fast.sample(cond=mel, seed=0), gan.sample(cond=mel, seed=0))


def test_folding_spectral_norm_keeps_the_outputs():
    """HiFi-GAN's D has spectral norm on its first scale and weight norm elsewhere: both fold."""
    disc = multigan.build("hifigan", **TINY["hifigan"]).discriminator.eval()
    folded = fold_parametrizations(disc)
    assert no_parametrizations(folded)
    wav = 0.1 * torch.randn(2, 1, 2048)
    with torch.no_grad():
        for ours, theirs in zip(disc(wav), folded(wav), strict=True):
            for a, b in zip(ours, theirs, strict=True):
                torch.testing.assert_close(a, b)


def test_cli_writes_the_rows_as_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = ["bench", "melgan", "--inference", "--steps", "1", "--warmup", "0", "--batch-size", "2", "--seconds",
            str(SECONDS), "--precision", "32", "--json", str(out)] + [f"--set={k}={v}" for k, v in TINY["melgan"].items()]
    assert main(args) == 0
    rows = json.loads(out.read_text())
    assert [(r["batch_size"], r["precision"]) for r in rows] == [(1, "32"), (2, "32")]
    assert all(KEYS <= set(r) for r in rows)
    assert rows[0]["command"].startswith("multigan bench melgan --inference --steps 1")
    assert "| melgan | 2 | x real time |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "nosuch"),
    (["dcgan", "--steps", "0"], "steps"),
    (["dcgan", "--batch-size", "0"], "batch sizes"),
    (["melgan", "--seconds", "0"], "seconds"),
    (["dcgan", "--precision", "16-mixed", "--device", "cpu"], "16-mixed"),
])
def test_bad_input_is_one_line_and_exit_status_2(args, message, capsys):
    assert main(["bench", *args[:1], "--inference", *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("multigan: error:") and message in err and err.count("\n") == 1


def test_seconds_without_inference_is_refused(capsys):
    assert main(["bench", "melgan", "--seconds", "1"]) == 2
    assert "--inference" in capsys.readouterr().err
