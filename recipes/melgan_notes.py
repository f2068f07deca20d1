"""MelGAN on the built-in notes: the quality proof of the vocoder.

    python recipes/melgan_notes.py                  # the recipe's run (sized for a CPU; see docs/melgan.md)
    python recipes/melgan_notes.py --scale 0.1      # a tenth of the steps
    python recipes/melgan_notes.py --set g_width=32 --set d_width=16 --set segment_length=8192 \
        --set mel_loss_weight=0 --set stft_warmup_steps=0 --set lr_g=1e-4   # the paper's model and loss

The recipe's run: 1,000 warm-up steps of G alone on HiFi-GAN's mel L1 loss (weight 45, plus
the multi-resolution STFT loss) at 1e-3 on an Adam of their own (lr_warmup), then 250
adversarial steps at lr_g = lr_d = 1e-4 with the mel and STFT losses kept beside the hinge and
feature-matching losses; fp32.

The same run from the command line: multigan train --config recipes/melgan_notes.json

Vocodes the mels of 64 real held-out notes and compares the result with the originals
(log-mel L1, multi-resolution STFT distance, loudness error, whether the pitch classifier hears
the input note's pitch), beside the reference points: Griffin-Lim from the same mels (no
training), the vocoder fed another note's mel, white noise at each note's loudness and an
untrained vocoder (see docs/evaluation.md). Targets: mel_l1 <= 0.5 x wrong_mel's and <= 0.5 x
noise's, |loudness_error_db| <= 1, pitch_accuracy >= 0.95.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("mel_l1", "stft_distance", "loudness_error_db", "pitch_accuracy")


def main(out_dir: str | Path = "runs/melgan_notes", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 64, progress: bool = True) -> dict:
    """Train, evaluate, print the figures beside the references and targets, and return the metrics."""
    gan, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress)
    refs = metrics["references"]
    wrong, noise, gl = refs["wrong_mel"]["mel_l1"], refs["noise"]["mel_l1"], refs["griffin_lim"]
    print(f"\nMelGAN on notes, {gan.config.stft_warmup_steps} warm-up steps, then {train['max_steps']} "
          f"adversarial steps (scale {scale})")
    print(reference_table(metrics, KEYS))
    check_targets([
        (f"mel_l1 {metrics['mel_l1']:.3f} <= 0.5 x wrong_mel's {wrong:.3f}", metrics["mel_l1"] <= 0.5 * wrong),
        (f"mel_l1 {metrics['mel_l1']:.3f} <= 0.5 x noise's {noise:.3f}", metrics["mel_l1"] <= 0.5 * noise),
        (f"|loudness_error_db| {abs(metrics['loudness_error_db']):.2f} <= 1", abs(metrics["loudness_error_db"]) <= 1),
        (f"pitch_accuracy {metrics['pitch_accuracy']:.3f} >= 0.95", metrics["pitch_accuracy"] >= 0.95),
    ])
    print(f"  (Griffin-Lim, untrained: mel_l1 {gl['mel_l1']:.3f}, stft_distance {gl['stft_distance']:.3f}, "
          f"loudness_error_db {gl['loudness_error_db']:+.2f}, pitch_accuracy {gl['pitch_accuracy']:.3f})")
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/melgan_notes")
    main(args.out, args.scale, args.overrides)
