"""WaveGAN on the built-in notes: the quality proof of the unconditional audio family.

    python recipes/wavegan_notes.py                 # the recipe's run (sized for a CPU; see docs/wavegan.md)
    python recipes/wavegan_notes.py --scale 0.2     # a fifth of the steps

The same run from the command line: multigan train --config recipes/wavegan_notes.json
The paper's settings (16 kHz, d = 64, batch 64, 5 critic steps, Adam 1e-4), for a GPU:
multigan train wavegan

Sized for a CPU (about 25 minutes on 2 cores): notes at 4 kHz in the 4,096-sample variant
(1.02 s, the whole note), d = 16, batch 32, 2 critic steps, Adam 3e-4, 6,000 steps, and the
paper's learned 512-tap post-processing filter at G's output. See
docs/wavegan.md for the measured scores along the run.

Compares 1,000 generated notes with 1,000 real held-out notes (a pitch classifier's inception
score and Fréchet distance, the Fréchet distance of log-mel statistics, the KL of the pitch
histograms), beside the trivial reference points: other real notes, eight constant pure sines
(one per pitch), white noise and an untrained generator (see docs/evaluation.md). Targets:
fd < the sines' fd, fd_mel < the sines' fd_mel (a note is more than its pitch), and
score >= 0.7 x the real notes' score.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("score", "fd", "fd_mel", "pitch_kl")


def main(out_dir: str | Path = "runs/wavegan_notes", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 1000, progress: bool = True, batch_size: int | None = None) -> dict:
    """Train, evaluate, print the figures beside the references and targets, and return the
    metrics (``batch_size`` replaces the recipe's, for the fast test)."""
    _, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress,
                                   batch_size=batch_size)
    real, sine = metrics["references"]["real"], metrics["references"]["sines"]
    print(f"\nWaveGAN on notes, {train['max_steps']} steps of {train['batch_size']} (scale {scale})")
    print(reference_table(metrics, KEYS))
    check_targets([
        (f"fd {metrics['fd']:.1f} < the sines' {sine['fd']:.1f}", metrics["fd"] < sine["fd"]),
        (f"fd_mel {metrics['fd_mel']:.2f} < the sines' {sine['fd_mel']:.2f}", metrics["fd_mel"] < sine["fd_mel"]),
        (f"score {metrics['score']:.3f} >= 0.7 x real notes' {real['score']:.3f}",
         metrics["score"] >= 0.7 * real["score"]),
    ])
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/wavegan_notes")
    main(args.out, args.scale, args.overrides)
