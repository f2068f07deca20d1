"""MelGAN on the built-in speech, for the same wall-clock time as recipes/hifigan_speech.py.

    python recipes/hifigan_speech.py && python recipes/melgan_speech.py    # the comparison
    python recipes/melgan_speech.py --scale 0.1                            # a tenth of the steps

The recipe's run: the paper's MelGAN (g_width 32, d_width 16, hinge loss, feature matching x10)
with what the notes recipe found it needs (docs/melgan.md): 300 warm-up steps of G alone on
HiFi-GAN's mel L1 loss (x45) and the multi-resolution STFT loss at 1e-3 on an Adam of their own,
both losses kept beside the adversarial ones afterwards; batch 8 of 8,192-sample segments; bf16
where the CPU runs it natively. Its step count is set so that it trains about as long as
hifigan_speech.json's run on the same machine (measured side by side, one core each:
docs/hifigan.md#results).

The same run from the command line: multigan train --config recipes/melgan_speech.json

Evaluates as hifigan_speech.py does (64 held-out utterances; PESQ, STOI, F0 RMSE, V/UV F1,
mel L1, STFT distance, loudness, beside Griffin-Lim, wrong_mel, noise and an untrained vocoder),
then, when the HiFi-GAN run's eval.json is there (runs/hifigan_speech/), prints the two side by side with
their training times. MelGAN's mel is log10 and HiFi-GAN's natural-log, the same mel otherwise,
so the comparison puts MelGAN's mel_l1 in natural-log units (x ln 10). The target: HiFi-GAN
ahead on PESQ and mel_l1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from multigan.recipe import check_targets, recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("pesq", "stoi", "f0_rmse", "vuv_f1", "mel_l1", "stft_distance", "loudness_error_db")
COMPARED = ("pesq", "stoi", "f0_rmse", "vuv_f1", "mel_l1_ln", "stft_distance", "loudness_error_db",
            "train_minutes")


def in_natural_log(metrics: dict, log_base: str) -> float:
    """``metrics["mel_l1"]`` on the natural-log mel (the front end is otherwise the same)."""
    return metrics["mel_l1"] * (math.log(10) if log_base == "10" else 1.0)


def comparison(ours: dict, ours_base: str, theirs: dict, theirs_base: str) -> dict[str, dict[str, float]]:
    """HiFi-GAN's and MelGAN's figures on common scales, keyed by family then metric."""
    def row(metrics: dict, base: str) -> dict[str, float]:
        return {**{k: metrics[k] for k in KEYS if metrics.get(k) is not None},
                "mel_l1_ln": in_natural_log(metrics, base), "train_minutes": metrics["train_seconds"] / 60}
    return {"hifigan": row(theirs, theirs_base), "melgan": row(ours, ours_base)}


def main(out_dir: str | Path = "runs/melgan_speech", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 64, progress: bool = True, against: str | Path = "runs/hifigan_speech") -> dict:
    """Train, evaluate, print the figures beside the references (and beside HiFi-GAN's run at
    ``against`` when it has been evaluated), and return the metrics."""
    gan, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, n_samples=n_samples, progress=progress)
    print(f"\nMelGAN on speech, {gan.config.stft_warmup_steps} warm-up steps, then {train['max_steps']} "
          f"adversarial steps (scale {scale}), {metrics['train_seconds'] / 60:.1f} minutes")
    print(reference_table(metrics, KEYS))
    hifigan_eval = Path(against) / "eval.json"
    if hifigan_eval.is_file():
        theirs = json.loads(hifigan_eval.read_text())
        theirs_base = json.loads((Path(against) / "config.json").read_text())["config"]["mel"]["log_base"]
        table = comparison(metrics, gan.config.mel.log_base, theirs, theirs_base)
        print(f"\nbeside HiFi-GAN ({against}):")
        print(f"  {'':16s}{'hifigan':>12s}{'melgan':>12s}")
        for key in COMPARED:
            print(f"  {key:16s}" + "".join(f"{table[f].get(key, float('nan')):12.4g}" for f in table))
        h, m = table["hifigan"], table["melgan"]
        check_targets([(f"HiFi-GAN's pesq {h['pesq']:.3f} > MelGAN's {m['pesq']:.3f}", h["pesq"] > m["pesq"]),
                       (f"HiFi-GAN's mel_l1 {h['mel_l1_ln']:.3f} < MelGAN's {m['mel_l1_ln']:.3f} (natural log)",
                        h["mel_l1_ln"] < m["mel_l1_ln"])])
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/melgan_speech")
    main(args.out, args.scale, args.overrides)
