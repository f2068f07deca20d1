"""What every script in ``recipes/`` does: read its JSON config (the format of a run's
``config.json``), train, evaluate, and write ``eval.json``. The scripts add their own targets
and printing, so each stays one readable page."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from .config import parse_set_options
from .gan import GAN
from .registry import build, get_modality, with_data_hints
from .train import Trainer


def load_recipe(config_path: str | Path, scale: float = 1.0, overrides: dict[str, Any] | None = None,
                data: str | None = None, batch_size: int | None = None) -> tuple[GAN, dict[str, Any]]:
    """The recipe at ``config_path``: its GAN (built from the recipe's seed) and its trainer
    settings, with every step count multiplied by ``scale``: ``max_steps`` and the config
    fields the recipe lists under ``"scaled"`` (pre-training phases). ``overrides`` change the
    family config, ``data`` and ``batch_size`` the recipe's trainer settings; fields the data
    dictates (its image size, its classes) are set as ``multigan train`` sets them."""
    recipe = json.loads(Path(config_path).read_text())
    train = dict(recipe["train"])
    train["max_steps"] = max(1, round(train["max_steps"] * scale))
    if data is not None:
        train["data"] = data
    if batch_size is not None:
        train["batch_size"] = batch_size
    config = dict(recipe["config"])
    for key in recipe.get("scaled", []):
        config[key] = max(1, round(config[key] * scale))
    config = with_data_hints(recipe["name"], {**config, **(overrides or {})}, train.get("data"))
    torch.manual_seed(train.get("seed", 0))  # the initial weights, as `multigan train --config` seeds them
    return build(recipe["name"], **config), train


def run_recipe(config_path: str | Path, out_dir: str | Path, scale: float = 1.0,
               overrides: dict[str, Any] | None = None, data: str | None = None,
               n_samples: int | None = None, progress: bool = True, evaluate: bool = True,
               batch_size: int | None = None) -> tuple[GAN, dict[str, Any], dict[str, Any]]:
    """Train the recipe at ``config_path`` (see :func:`load_recipe`), then evaluate.

    Returns the trained GAN, the metrics (also written to ``out_dir/eval.json``; empty when
    ``evaluate`` is false, for data the modality's metrics do not cover) and the trainer
    settings used. The metrics hold ``train_seconds``, the wall time of this call's training
    (of the resumed part only, when ``out_dir`` held a run), for comparisons at equal time.
    """
    gan, train = load_recipe(config_path, scale, overrides, data, batch_size)
    start = time.perf_counter()
    Trainer(gan, out_dir=out_dir, progress=progress, **train).fit()
    train_seconds = time.perf_counter() - start
    if not evaluate:
        return gan, {}, train
    metrics = {**get_modality(gan.modality).evaluate(gan, train.get("data"), n_samples, 0),
               "train_seconds": train_seconds}
    (Path(out_dir) / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return gan, metrics, train


def pretrain_then_train(config_path: str | Path, data: str, out_dir: str | Path, scale: float = 1.0,
                        overrides: dict[str, Any] | None = None, n_samples: int | None = None,
                        progress: bool = True) -> dict[str, dict[str, Any]]:
    """Run the recipe's pre-training phases and evaluate, then its adversarial steps (the same
    run, resumed) and evaluate again: ``{"mle": metrics, <family>: metrics}``, also written to
    ``out_dir/eval.json``. The text recipes' comparison of a GAN with its MLE start."""
    gan, train = load_recipe(config_path, scale, overrides, data=data)
    evaluate = get_modality(gan.modality).evaluate
    Trainer(gan, out_dir=out_dir, progress=progress, **{**train, "max_steps": 0}).fit()
    result = {"mle": evaluate(gan, data, n_samples, 0)}
    Trainer(gan, out_dir=out_dir, progress=progress, **train).fit()
    result[gan.name] = evaluate(gan, data, n_samples, 0)
    (Path(out_dir) / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def stage_table(result: dict[str, dict[str, Any]], keys: Sequence[str]) -> str:
    """One column per stage of ``result`` (e.g. MLE, then the GAN), one row per metric."""
    lines = [f"  {'':11s}" + "".join(f"{stage:>9s}" for stage in result)]
    for key in keys:
        lines.append(f"  {key:11s}" + "".join(f"{metrics[key]:9.3f}" for metrics in result.values()))
    return "\n".join(lines)


def recipe_arguments(doc: str, out_dir: str, needs_data: bool = False, steps: bool = False) -> argparse.Namespace:
    """The command line every recipe takes: ``[--data DIR] [--out DIR] [--scale F] [--set k=v ...]``
    (and ``--steps N`` where ``steps``); ``overrides`` holds the parsed ``--set`` items."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if needs_data:
        parser.add_argument("--data", required=True, help="the local data folder")
    parser.add_argument("--out", default=out_dir, help=f"run folder (default: {out_dir})")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the recipe's steps")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    if steps:
        parser.add_argument("--steps", type=int, help="adversarial steps (default: the recipe's, scaled)")
    args = parser.parse_args()
    args.overrides = parse_set_options(args.set)
    return args


def reference_table(metrics: dict[str, Any], keys: Sequence[str]) -> str:
    """The model's ``keys`` beside each reference point's (``metrics["references"]``), one row
    per metric: the table the recipes print."""
    columns = ["model", *metrics.get("references", {})]
    values = {"model": metrics, **metrics.get("references", {})}
    lines = [f"  {'':16s}" + "".join(f"{c:>12s}" for c in columns)]
    for key in keys:
        cells = (values[c].get(key) for c in columns)
        lines.append(f"  {key:16s}" + "".join(f"{'-':>12s}" if v is None else f"{v:12.4g}" for v in cells))
    return "\n".join(lines)


def check_targets(targets: Sequence[tuple[str, bool]]) -> bool:
    """Print each target (a description and whether it holds) as met or MISSED; all met?"""
    for description, met in targets:
        print(f"  {'met   ' if met else 'MISSED'}  {description}")
    return all(met for _, met in targets)
