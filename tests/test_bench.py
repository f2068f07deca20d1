"""multigan bench: rows for every family, against the plain loops of benchmarks/baselines/."""

import json

import pytest

from multigan.bench import bench, format_table, time_medians
from multigan.cli import main
from multigan.errors import ConfigError

# small enough for a 2-core CPU; the real benchmark uses each family's defaults
SMALL = {
    "dcgan": {"image_size": 32, "channels": 1, "g_width": 8, "d_width": 8},
    "wavegan": {"model_size": 2, "n_critic": 2},
    "melgan": {"g_width": 8, "d_width": 4, "segment_length": 2048},
    "seqgan": {"rollouts": 2, "d_filter_sizes": (2, 3), "d_num_filters": (8, 8)},
}
KEYS = {"family", "step", "unit", "throughput", "baseline_throughput", "speedup", "precision", "kernels", "device",
        "peak_memory_mb", "median_s", "baseline_median_s", "batch_size"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_family_gets_rows_with_a_speedup_over_its_plain_loop(name):
    rows = bench(name, steps=1, warmup=0, batch_size=4, overrides=SMALL[name])
    assert [r["step"] for r in rows] == (["pg", "d"] if name == "seqgan" else ["train"])
    for row in rows:
        assert KEYS <= set(row)
        assert row["throughput"] > 0 and row["baseline_throughput"] > 0
        assert row["speedup"] == pytest.approx(row["throughput"] / row["baseline_throughput"])
        assert (row["family"], row["precision"], row["kernels"], row["device"]) == (name, "32", "fused", "cpu")
    assert rows[0]["unit"] == {"dcgan": "images/s", "wavegan": "seconds of audio/s",
                               "melgan": "seconds of audio/s", "seqgan": "sequences/s"}[name]


def test_cli_writes_the_rows_as_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = ["bench", "dcgan", "--steps", "1", "--warmup", "0", "--batch-size", "2", "--kernels", "eager",
            "--json", str(out)] + [f"--set={k}={v}" for k, v in SMALL["dcgan"].items()]
    assert main(args) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and KEYS <= set(rows[0]) and rows[0]["kernels"] == "eager"
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
