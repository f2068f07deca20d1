"""DCGAN on the built-in digits: the quality proof of the image modality.

    python recipes/dcgan_digits.py                        # the full run: 5,000 steps (44 min measured on one thread)
    python recipes/dcgan_digits.py --scale 0.06           # 300 steps, as the test suite runs it
    python recipes/dcgan_digits.py --set g_width=32 --out runs/narrow

The same run from the command line: multigan train --config recipes/dcgan_digits.json

Trains DCGAN (32x32, one channel) on the real training split, then compares 1,000 samples with
the real test split in the features of a digits classifier, beside the trivial reference points
(real training images, 10 or 100 training images copied, an untrained generator; see
docs/evaluation.md). Targets: fd <= 0.5 x the fd of copy100 (100 training images repeated),
coverage >= 0.7, recall >= 0.5 and memorisation >= 0.8 (not a copier). docs/dcgan.md has the
measured trajectory: the last three hold from 2,000 steps on; fd stays between 90 and 127 from
4,000 steps on, short of copy100's half (81.5).
"""

from __future__ import annotations

from pathlib import Path

from multigan.modalities.image.metrics import digits_targets
from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("fd", "kid", "precision", "recall", "density", "coverage", "memorisation", "class_kl", "modes_covered")


def main(out_dir: str | Path = "runs/dcgan_digits", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True) -> dict:
    """Train, evaluate, print the figures beside the references and targets, return the metrics."""
    _, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress)
    print(f"\nDCGAN on digits, {train['max_steps']} steps (scale {scale})")
    print(reference_table(metrics, KEYS))
    check_targets(digits_targets(metrics))
    print(f"samples: {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/dcgan_digits")
    main(args.out, args.scale, args.overrides)
