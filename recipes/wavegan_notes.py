"""WaveGAN on the built-in notes: the quality proof of the unconditional audio family.

    python recipes/wavegan_notes.py                 # the recipe's run (sized for a CPU; see docs/wavegan.md)
    python recipes/wavegan_notes.py --scale 0.2     # a fifth of the steps

The same run from the command line: multigan train --config recipes/wavegan_notes.json
The paper's settings (16 kHz, d = 64, batch 64, 5 critic steps, Adam 1e-4), for a GPU:
multigan train wavegan

Sized for a CPU (about 25 minutes on 2 cores): notes at 4 kHz in the 4,096-sample variant
(1.02 s, the whole note), d = 16, batch 32, 2 critic steps, Adam 3e-4, 6,000 steps. See
docs/wavegan.md for the measured scores along the run.

Scores 1,000 generated notes with the inception-style score of a pitch classifier trained on
real notes, beside the same score of real held-out notes. Target: score >= 0.5 x score_real.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import recipe_arguments, run_recipe

CONFIG = Path(__file__).with_suffix(".json")


def main(out_dir: str | Path = "runs/wavegan_notes", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True, batch_size: int | None = None) -> dict:
    """Train, evaluate, print the figures beside the target, and return the metrics
    (``batch_size`` replaces the recipe's, for the fast test)."""
    _, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress,
                                   batch_size=batch_size)
    ratio = metrics["score"] / metrics["score_real"]
    print(f"\nWaveGAN on notes, {train['max_steps']} steps of {train['batch_size']} (scale {scale})")
    print(f"  score       {metrics['score']:8.3f}")
    print(f"  score_real  {metrics['score_real']:8.3f}")
    print(f"  ratio       {ratio:8.3f}   target >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'}")
    print(f"  fd          {metrics['fd']:8.1f}   untrained {metrics['fd_untrained']:8.1f}")
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/wavegan_notes")
    main(args.out, args.scale, args.overrides)
