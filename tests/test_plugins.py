"""A third-party package registers a new modality and family through a real entry point.

``tests/plugin_example`` is that package (``multigan-points``): the first test exposes it through
a hand-made .dist-info, the last one installs it with pip and uses it from a fresh process.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import multigan
from multigan import registry
from multigan.errors import DataError

PLUGIN_ROOT = Path(__file__).parent / "plugin_example"


@pytest.fixture(autouse=True)
def _one_thread():
    """The plugin's networks are tiny: one thread runs them fastest (and unaffected by other
    processes competing for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def installed_plugin(tmp_path):
    """Install ``multigan_points`` the way pip would expose it: a .dist-info with an
    entry_points.txt on sys.path."""
    dist = tmp_path / "multigan_points-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: multigan-points\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[multigan.plugins]\npoints = multigan_points\n")
    sys.path[:0] = [str(tmp_path), str(PLUGIN_ROOT)]
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(tmp_path))
    sys.path.remove(str(PLUGIN_ROOT))
    sys.modules.pop("multigan_points", None)
    registry._models.pop("pointgan", None)
    registry._modalities.pop("points", None)


def test_entry_point_plugin_is_discovered_and_trains(installed_plugin, tmp_path):
    registry.load_plugins(force=True)
    assert "pointgan" in multigan.list_models()
    assert multigan.list_models(modality="points") == ["pointgan"]

    torch.manual_seed(0)
    gan = multigan.build("pointgan", hidden=32)
    points = registry.get_modality("points")
    points.check_batch(torch.zeros(4, 2), gan)
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        points.check_batch(torch.zeros(4, 3), gan)
    with pytest.raises(DataError, match="float"):
        points.check_batch(torch.zeros(4, 2, dtype=torch.long), gan)
    untrained = points.evaluate(gan, None, 1000, 0)
    out = tmp_path / "run"
    multigan.Trainer(gan, out_dir=out, max_steps=200, log_every=50, sample_every=100,
                     checkpoint_every=100, progress=False).fit()
    assert (out / "samples" / "step-000200.txt").is_file()
    assert (out / "checkpoints" / "last.pt").is_file()

    loaded = multigan.load(out)
    metrics = points.evaluate(loaded, None, 1000, 0)
    # 200 steps move the generator's mass from a blob near the origin towards the ring
    assert untrained["on_ring"] < 0.05 and metrics["on_ring"] > 0.25, (untrained, metrics)


def test_a_broken_plugin_warns_and_does_not_break_the_registry(tmp_path):
    dist = tmp_path / "broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[multigan.plugins]\nbroken = no_such_module_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.warns(UserWarning, match="'broken'"):
            registry.load_plugins(force=True)
        assert "dcgan" in multigan.list_models()
    finally:
        sys.path.remove(str(tmp_path))


def test_the_plugin_installs_with_pip_and_trains_from_the_command_line(tmp_path):
    """``pip install`` the example package (no network: no dependencies, no build isolation),
    then a fresh ``python -m multigan`` finds it through its entry point alone."""
    source = tmp_path / "src"  # pip builds in place (build/, *.egg-info): keep the tests' copy clean
    shutil.copytree(PLUGIN_ROOT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                          "--no-index", "--quiet", "--target", str(site), str(source)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (site / "multigan_points" / "__init__.py").is_file()
    (dist,) = site.glob("multigan_points-0.1.0.dist-info")
    assert "[multigan.plugins]" in (dist / "entry_points.txt").read_text()

    # the installed package is on the path; the plugin's source folder is not (nor is the fixture's
    # fake dist-info): the entry point in the installed dist-info is all multigan has to go on
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}

    def multigan_cli(*args: str) -> str:
        # from the repository root, so that multigan imports even where it is not installed
        done = subprocess.run([sys.executable, "-m", "multigan", *args], cwd=PLUGIN_ROOT.parents[1], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = dict(line.split() for line in multigan_cli("list").splitlines())
    assert listed["pointgan"] == "points"

    run = tmp_path / "run"
    multigan_cli("train", "pointgan", "--steps", "50", "--out", str(run), "--no-progress", "--set", "hidden=16")
    assert (run / "checkpoints" / "last.pt").is_file()
    assert (run / "samples" / "step-000050.txt").is_file()
    assert json.loads((run / "config.json").read_text())["config"]["hidden"] == 16
    metrics = json.loads(multigan_cli("eval", str(run), "--n", "200").splitlines()[-1])
    assert metrics["name"] == "pointgan" and 0 <= metrics["on_ring"] <= 1
