"""A third-party package registers a new modality and family through a real entry point."""

import importlib
import sys
from pathlib import Path

import pytest
import torch

import multigan
from multigan import registry

PLUGIN_ROOT = Path(__file__).parent / "plugin_example"


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
