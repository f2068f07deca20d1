"""Class-conditional SNGAN on the built-in digits: the quality proof of conditional images.

    python recipes/sngan_digits.py                  # the recipe's run (sized for a CPU; see docs/sngan.md)
    python recipes/sngan_digits.py --scale 0.1      # a tenth of the steps
    multigan sample runs/sngan_digits --label 7     # sevens, once trained

The same run from the command line: multigan train --config recipes/sngan_digits.json
The papers' CIFAR-10 settings (G 256 and D 128 channels wide, five D updates per G update):
multigan train sngan, or recipes/sngan_folder.py for a folder of class subfolders.

Sized for a CPU: G and D 64 channels wide and one D update per G update (the conditional
BatchNorm tables need G updates to learn the classes; docs/sngan.md has the pilot runs), hinge
loss, Adam with betas (0, 0.9) at 2e-4 for G and 4e-4 for D (a faster D keeps more variety
within each class), batch 64, 1,500 steps (about 20 min on one thread with native bf16): past
that point the variety within each class falls further (docs/sngan.md has the runs).

Evaluates 1,000 samples, 100 asked of each digit, in the digits classifier's features beside
the trivial reference points (real training digits, 10 or 100 copied, an untrained generator;
docs/evaluation.md), and the conditional metrics (docs/conditional.md). Targets:
label_accuracy >= 0.9; cas >= 0.8 x cas_real; augmentation_gain > 0 with its std (over 3
seeds) below it; and the DCGAN recipe's targets on the unconditional metrics (fd <= 0.5 x
copy100's, coverage >= 0.7, recall >= 0.5, memorisation >= 0.8).
"""

from __future__ import annotations

from pathlib import Path

from multigan.modalities.image.metrics import digits_targets
from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("label_accuracy", "cas", "cas_std", "augmentation_gain", "augmentation_gain_std", "intra_fd",
        "fd", "precision", "recall", "coverage", "memorisation", "class_kl", "modes_covered")


def main(out_dir: str | Path = "runs/sngan_digits", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True) -> dict:
    """Train, evaluate, print the figures beside the references and targets, return the metrics."""
    _, m, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress)
    print(f"\nSNGAN on digits with their labels, {train['max_steps']} steps (scale {scale})")
    print(reference_table(m, KEYS))
    print(f"  cas_real {m['cas_real']:.3f} (std {m['cas_real_std']:.3f}); 10 real digits per class alone: "
          f"{m['few_shot_accuracy']:.3f} (std {m['few_shot_accuracy_std']:.3f})")
    gain, gain_std = m["augmentation_gain"], m["augmentation_gain_std"]
    check_targets([
        (f"label_accuracy {m['label_accuracy']:.3f} >= 0.9", m["label_accuracy"] >= 0.9),
        (f"cas {m['cas']:.3f} >= 0.8 x cas_real {m['cas_real']:.3f}", m["cas"] >= 0.8 * m["cas_real"]),
        (f"augmentation_gain {gain:+.3f} > 0, std {gain_std:.3f} below it", gain > 0 and gain_std < gain),
        *digits_targets(m),
    ])
    print(f"samples: {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return m


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/sngan_digits")
    main(args.out, args.scale, args.overrides)
