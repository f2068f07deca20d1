"""DCGAN learns digits: the recipe at reduced scale by default, in full with ``-m slow``."""

import importlib.util
from pathlib import Path

import pytest

RECIPE = Path(__file__).parents[1] / "recipes" / "dcgan_digits.py"


def run_recipe(out, scale):
    spec = importlib.util.spec_from_file_location("dcgan_digits", RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return recipe.main(out, scale=scale, progress=False)


def test_dcgan_digits_reduced_scale_clearly_improves(tmp_path):
    metrics = run_recipe(tmp_path, scale=0.1)  # 150 steps
    assert metrics["fd"] < 0.5 * metrics["fd_untrained"], metrics
    assert metrics["modes_covered"] >= 8, metrics


@pytest.mark.slow
def test_dcgan_digits_full_recipe_meets_the_target(tmp_path):
    metrics = run_recipe(tmp_path, scale=1.0)
    assert metrics["fd"] < 0.25 * metrics["fd_untrained"], metrics
    assert metrics["modes_covered"] == 10, metrics
