"""Pitch-conditional WaveGAN on the built-in notes: ask for a pitch, get that note.

    python recipes/wavegan_notes_conditional.py                # the recipe's run (sized for a CPU)
    python recipes/wavegan_notes_conditional.py --scale 0.1    # a tenth of the steps
    multigan sample runs/wavegan_notes_conditional --label A4  # an A4, once trained

The same run from the command line: multigan train --config recipes/wavegan_notes_conditional.json
or: multigan train wavegan --set num_classes=8 (the notes' pitch names come from the data).

The unconditional recipe's CPU settings (recipes/wavegan_notes.py: 4 kHz, 4,096 samples, d = 16,
batch 32, 2 critic steps, Adam 3e-4, the 512-tap post-filter) with the label: its embedding
concatenated to z at G's input, the projection term in D. 4,000 steps (35 min on one thread).

Evaluates 1,000 samples, 125 asked of each pitch: label_accuracy (the pitch classifier hears
the pitch asked for), cas and augmentation_gain (docs/conditional.md), fd and fd_mel against
held-out notes, beside real notes, pure sines at the asked pitches (perfect label_accuracy,
no timbre) and an untrained generator. Target: label_accuracy >= 0.9.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("label_accuracy", "cas", "cas_std", "augmentation_gain", "augmentation_gain_std", "fd", "fd_mel")


def main(out_dir: str | Path = "runs/wavegan_notes_conditional", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True, batch_size: int | None = None) -> dict:
    """Train, evaluate, print the figures beside the references and the target, return the
    metrics (``batch_size`` replaces the recipe's, for the fast test)."""
    _, m, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress,
                             batch_size=batch_size)
    print(f"\nPitch-conditional WaveGAN on notes, {train['max_steps']} steps of {train['batch_size']} (scale {scale})")
    print(reference_table(m, KEYS))
    print(f"  cas_real {m['cas_real']:.3f}; 10 real notes per pitch alone: {m['few_shot_accuracy']:.3f}")
    check_targets([(f"label_accuracy {m['label_accuracy']:.3f} >= 0.9", m["label_accuracy"] >= 0.9)])
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return m


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/wavegan_notes_conditional")
    main(args.out, args.scale, args.overrides)
