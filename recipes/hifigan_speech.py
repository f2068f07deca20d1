"""HiFi-GAN V3 on the built-in speech, sized for a CPU: the speech vocoder's quality proof.

    python recipes/hifigan_speech.py                  # the recipe's run (23 minutes on one core, measured)
    python recipes/hifigan_speech.py --scale 0.1      # a tenth of the steps
    python recipes/hifigan_speech.py --set version=v2 # the small V1-style generator instead

The recipe's run: the paper's V3 generator and objective (least squares, feature matching x2,
natural-log mel L1 x45, AdamW 2e-4 with betas (0.8, 0.99), decay 0.999 per epoch) with narrower
discriminators (mpd_width 8, msd_width 16: the paper's 32 and 128 cost 4x the time on a CPU),
batch 8 of 8,192-sample segments, 1,200 steps, bf16 where the CPU runs it natively (fp32
elsewhere: emulated bf16 is many times slower).

The same run from the command line: multigan train --config recipes/hifigan_speech.json

Vocodes the mels of 64 held-out utterances (1.5 s crops of sentences never heard in training)
and compares the result with the originals: wideband PESQ, STOI, F0 RMSE in cents and
voiced/unvoiced F1 (both from pYIN), log-mel L1, multi-resolution STFT distance and loudness
error, beside the reference points (docs/evaluation.md): Griffin-Lim from the same mels, the
vocoder fed another utterance's mel, white noise at each clip's loudness and an untrained
vocoder. Targets: PESQ above Griffin-Lim's, F0 RMSE below it, and mel_l1 at most half of
wrong_mel's. recipes/melgan_speech.py trains MelGAN for the same wall-clock time for the
comparison (docs/hifigan.md#results).
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("pesq", "stoi", "f0_rmse", "vuv_f1", "mel_l1", "stft_distance", "loudness_error_db")


def main(out_dir: str | Path = "runs/hifigan_speech", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 64, progress: bool = True, batch_size: int | None = None) -> dict:
    """Train, evaluate, print the figures beside the references and targets, and return the
    metrics (``batch_size`` replaces the recipe's, for the fast test)."""
    gan, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress,
                                     batch_size=batch_size)
    gl, wrong = metrics["references"]["griffin_lim"], metrics["references"]["wrong_mel"]
    print(f"\nHiFi-GAN {gan.config.version.upper()} on speech, {train['max_steps']} steps of {train['batch_size']} "
          f"(scale {scale}), "
          f"{metrics['train_seconds'] / 60:.1f} minutes")
    print(reference_table(metrics, KEYS))
    check_targets([
        (f"pesq {metrics['pesq']:.3f} > griffin_lim's {gl['pesq']:.3f}", metrics["pesq"] > gl["pesq"]),
        (f"f0_rmse {metrics['f0_rmse']:.1f} < griffin_lim's {gl['f0_rmse']:.1f} cents",
         metrics["f0_rmse"] < gl["f0_rmse"]),
        (f"mel_l1 {metrics['mel_l1']:.3f} <= 0.5 x wrong_mel's {wrong['mel_l1']:.3f}",
         metrics["mel_l1"] <= 0.5 * wrong["mel_l1"]),
    ])
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/hifigan_speech")
    main(args.out, args.scale, args.overrides)
