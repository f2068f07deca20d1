"""MelGAN on the built-in notes: the quality proof of the vocoder.

    python recipes/melgan_notes.py                  # the recipe's run (sized for a CPU; see docs/melgan.md)
    python recipes/melgan_notes.py --scale 0.1      # a tenth of the steps
    python recipes/melgan_notes.py --set g_width=32 --set d_width=16 --set segment_length=8192 \
        --set stft_loss_weight=0 --set stft_warmup_steps=0    # the paper's model and loss

The same run from the command line: multigan train --config recipes/melgan_notes.json

Vocodes the mels of real held-out notes and compares the result with the originals
(multi-resolution STFT distance, log-mel L1), beside an untrained vocoder of the same config.
Target: mel_l1 <= 0.5 x mel_l1_untrained.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import recipe_arguments, run_recipe

CONFIG = Path(__file__).with_suffix(".json")


def main(out_dir: str | Path = "runs/melgan_notes", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 64, progress: bool = True) -> dict:
    """Train, evaluate, print the figures beside the target, and return the metrics."""
    gan, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress)
    ratio = metrics["mel_l1"] / metrics["mel_l1_untrained"]
    print(f"\nMelGAN on notes, {gan.config.stft_warmup_steps} STFT warm-up steps, then {train['max_steps']} "
          f"adversarial steps (scale {scale})")
    print(f"  stft_distance  {metrics['stft_distance']:8.3f}   untrained {metrics['stft_distance_untrained']:8.3f}")
    print(f"  mel_l1         {metrics['mel_l1']:8.3f}   untrained {metrics['mel_l1_untrained']:8.3f}")
    print(f"  mel_l1 ratio   {ratio:8.3f}   target <= 0.5: {'met' if ratio <= 0.5 else 'MISSED'}")
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/melgan_notes")
    main(args.out, args.scale, args.overrides)
