"""multigan bench: rows for every family, against the plain loops of multigan/baselines/, each
row with the machine that measured it."""

import inspect
import json

import pytest
import torch

import multigan.bench
from multigan.bench import bench, emulated_bf16, format_table, time_medians
from multigan.cli import main
from multigan.errors import ConfigError
from multigan.precision import CPUInfo, cpu_info, resolve_precision

# small enough for a 2-core CPU; the real benchmark uses each family's defaults
SMALL = {
    "dcgan": {"image_size": 32, "channels": 1, "g_width": 8, "d_width": 8},
    "sngan": {"channels": 1, "latent_dim": 16, "g_width": 8, "d_width": 8, "n_critic": 2},
    "wavegan": {"model_size": 2, "n_critic": 2},
    "melgan": {"g_width": 8, "d_width": 4, "segment_length": 2048},
    "hifigan": {"version": "v3", "initial_channels": 16, "mpd_width": 4, "msd_width": 16, "msd_scales": 2,
                "segment_length": 2048},
    "seqgan": {"rollouts": 2, "d_filter_sizes": (2, 3), "d_num_filters": (8, 8)},
    "relgan": {"head_size": 16, "d_embed_dim": 8, "d_representations": 4, "d_num_filters": (8, 8, 8, 8),
               "n_critic": 2},
}
MACHINE_KEYS = {"machine", "cpu_capability", "bf16_native", "cpu_model", "cpu_threads"}
KEYS = {"family", "step", "unit", "throughput", "baseline_throughput", "speedup", "precision", "precision_requested",
        "kernels", "device", "peak_memory_mb", "median_s", "baseline_median_s", "batch_size"} | MACHINE_KEYS
#: a 2-core AVX2 CPU, where oneDNN emulates bf16
AVX2 = CPUInfo(capability="AVX2", bf16_native=False, model="AMD EPYC 7B12", threads=2)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_family_gets_rows_with_a_speedup_over_its_plain_loop(name):
    rows = bench(name, steps=1, warmup=0, batch_size=4, precision="32", overrides=SMALL[name])
    assert [r["step"] for r in rows] == (["pg", "d"] if name == "seqgan" else ["train"])
    for row in rows:
        assert KEYS <= set(row)
        assert row["throughput"] > 0 and row["baseline_throughput"] > 0
        assert row["speedup"] == pytest.approx(row["throughput"] / row["baseline_throughput"])
        assert (row["family"], row["precision"], row["precision_requested"], row["kernels"], row["device"]) == (
            name, "32", "32", "auto", "cpu")
    assert rows[0]["unit"] == {"dcgan": "images/s", "sngan": "images/s", "wavegan": "seconds of audio/s", "melgan": "seconds of audio/s",
                               "hifigan": "seconds of audio/s", "seqgan": "sequences/s", "relgan": "sequences/s"}[name]


def test_cli_writes_the_rows_as_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = ["bench", "dcgan", "--steps", "1", "--warmup", "0", "--batch-size", "2", "--kernels", "eager",
            "--json", str(out)] + [f"--set={k}={v}" for k, v in SMALL["dcgan"].items()]
    assert main(args) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and KEYS <= set(rows[0]) and rows[0]["kernels"] == "eager"
    assert rows[0]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert rows[0]["command"].startswith("multigan bench dcgan --steps 1 --warmup 0")
    assert "| dcgan | train | images/s |" in capsys.readouterr().out


def test_table_and_timing_helpers():
    calls = []
    medians = time_medians([lambda: calls.append("a"), lambda: calls.append("b")], steps=3,
                           device=__import__("torch").device("cpu"))
    assert len(medians) == 2 and all(m >= 0 for m in medians)
    assert calls == ["a", "b"] * 3     # interleaved: each round times both
    row = {"family": "x", "step": "train", "unit": "images/s", "throughput": 10.0, "baseline_throughput": None,
           "speedup": None, "precision": "32", "kernels": "fused", "compile": False, "batch_size": 4,
           "peak_memory_mb": 1.0, "device": "cpu"}
    assert "| x | train | images/s | 10 | n/a | n/a |" in format_table([row])


def test_rows_record_the_machine_and_the_precision_that_ran():
    """The default precision is "auto": the row holds what the trainer resolved it to on this
    machine, beside what was asked, and this CPU's capability, bf16 support, model and threads."""
    assert inspect.signature(bench).parameters["precision"].default == "auto"
    (row,) = bench("dcgan", steps=1, warmup=0, batch_size=2, overrides=SMALL["dcgan"], baseline=False)
    info = cpu_info()
    assert row["precision_requested"] == "auto"
    assert row["precision"] == resolve_precision("auto", torch.device("cpu"))[0]
    assert (row["cpu_capability"], row["bf16_native"], row["cpu_model"], row["cpu_threads"]) == (
        torch.backends.cpu.get_cpu_capability(), info.bf16_native, info.model, info.threads)
    assert isinstance(row["bf16_native"], bool) and row["speedup"] is None
    assert info.capability in row["machine"] and info.model in row["machine"]
    json.dumps(row)  # the row is JSON as it is


def test_bf16_on_a_cpu_that_emulates_it_is_measured_and_marked(monkeypatch):
    """Asked for, bf16 runs even where it is emulated (the row is what the user would get), and
    the table says so."""
    monkeypatch.setattr(multigan.bench, "cpu_info", lambda: AVX2)
    (row,) = bench("dcgan", steps=1, warmup=0, batch_size=2, precision="bf16-mixed", overrides=SMALL["dcgan"],
                   baseline=False)
    assert (row["precision"], row["precision_requested"]) == ("bf16-mixed", "bf16-mixed")
    assert (row["cpu_capability"], row["bf16_native"], row["cpu_model"], row["cpu_threads"]) == (
        "AVX2", False, "AMD EPYC 7B12", 2)
    assert row["throughput"] > 0 and "AVX2" in row["machine"] and "emulated" in row["machine"]
    table = format_table([row])
    assert "| bf16-mixed (emulated) |" in table and table.endswith("| cpu | AVX2 |  |")


def table_row(**fields):
    row = {"family": "dcgan", "step": "train", "unit": "images/s", "throughput": 10.0, "baseline_throughput": 5.0,
           "speedup": 2.0, "precision": "bf16-mixed", "precision_requested": "bf16-mixed", "kernels": "fused",
           "compile": False, "batch_size": 64, "peak_memory_mb": 1.0, "device": "cpu", "cpu_capability": "AVX2",
           "bf16_native": False, "cpu_model": "AMD EPYC", "cpu_threads": 2}
    return {**row, **fields}


@pytest.mark.parametrize("fields, emulated", [
    ({}, True),                                                      # bf16 on an AVX2 CPU
    ({"cpu_capability": "AVX512", "bf16_native": True}, False),     # bf16 on a CPU with avx512_bf16
    ({"precision": "32"}, False),                                    # fp32 is never emulated
    ({"device": "cuda:0"}, False),                                   # the host CPU does not run CUDA's bf16
    ({"bf16_native": None, "cpu_capability": None}, False),          # a row that does not say
])
def test_the_table_marks_emulated_bf16_and_shows_the_cpu(fields, emulated):
    row = table_row(**fields)
    assert emulated_bf16(row) is emulated
    header, rule, line = format_table([row]).splitlines()
    assert header.split("|")[-3].strip() == "cpu" and len(header.split("|")) == len(rule.split("|")) == len(
        line.split("|"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[6] == row["precision"] + (" (emulated)" if emulated else "")
    assert cells[-2] == (row["cpu_capability"] or "n/a") and cells[-1] == ""     # no compile time: not compiled


def test_rows_from_before_the_machine_fields_still_format():
    old = {k: v for k, v in table_row().items() if k not in MACHINE_KEYS | {"precision_requested"}}
    assert format_table([old]).splitlines()[-1] == ("| dcgan | train | images/s | 10 | 5 | 2.00x | bf16-mixed | fused "
                                                     "| 64 | 1 | cpu | n/a |  |")


def test_the_machine_summary_comes_from_cpu_info(monkeypatch):
    monkeypatch.setattr(multigan.bench, "cpu_info", lambda: AVX2)
    assert multigan.bench.machine(torch.device("cpu")) == "AMD EPYC 7B12, 2 threads, AVX2, bf16 emulated"
    assert multigan.bench.machine_fields() == {"cpu_capability": "AVX2", "bf16_native": False,
                                               "cpu_model": "AMD EPYC 7B12", "cpu_threads": 2}


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError, match="steps"):
        bench("dcgan", steps=0)
    with pytest.raises(ConfigError, match="kernels"):
        bench("dcgan", kernels="fast", steps=1)


def test_kernel_benchmark_runs(tmp_path):
    """benchmarks/kernels.py is for a GPU; under the CPU interpreter it only has to run."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "kernels.py"
    out = tmp_path / "k.json"
    result = subprocess.run([sys.executable, str(script), "--allow-cpu", "--steps", "1", "--warmup", "0",
                             "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert {r["op"].split()[0] for r in rows} == {"bias_act", "phase_shuffle", "sample_categorical",
                                                  "token_logprobs", "adversarial_loss"}
    assert all(MACHINE_KEYS <= set(r) for r in rows)
