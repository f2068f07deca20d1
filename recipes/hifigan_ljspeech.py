"""HiFi-GAN V1 on LJSpeech, as in the paper: 22,050 Hz, 80-band natural-log mel, hop 256.

    python recipes/hifigan_ljspeech.py --data /data/LJSpeech-1.1/wavs                  # the paper's V1: a GPU job
    python recipes/hifigan_ljspeech.py --data /data/LJSpeech-1.1/wavs --set version=v3 # the fast V3
    python recipes/hifigan_ljspeech.py --data /data/LJSpeech-1.1/wavs --scale 0.0001   # 250 steps, a smoke test

The same run from the command line:
    multigan train --config recipes/hifigan_ljspeech.json --data /data/LJSpeech-1.1/wavs --out runs/hifigan_lj

The paper's schedule: 2.5 M steps of batch 16 on 8,192-sample segments, AdamW 2e-4 with betas
(0.8, 0.99) decayed by 0.999 per epoch, in fp32 as the authors trained (`multigan train --config
... --precision bf16-mixed` for mixed precision). LJSpeech is not downloaded: point --data at its local wavs/ folder. The figures compare vocoded and original
audio of the first 64 files of the folder (PESQ, STOI, F0 RMSE, V/UV F1, mel L1, STFT distance,
loudness error), beside Griffin-Lim from the same mels, the vocoder fed another file's mel, white
noise at each file's loudness and an untrained vocoder (docs/evaluation.md); hold files out of
--data yourself for a clean test.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("pesq", "stoi", "f0_rmse", "vuv_f1", "mel_l1", "stft_distance", "loudness_error_db")


def main(data: str, out_dir: str | Path = "runs/hifigan_ljspeech", scale: float = 1.0,
         overrides: dict | None = None, n_samples: int = 64, progress: bool = True) -> dict:
    """Train on the folder ``data``, evaluate, print the figures beside the references and return
    the metrics."""
    gan, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, data=data, n_samples=n_samples,
                                     progress=progress)
    print(f"\nHiFi-GAN {gan.config.version.upper()} on {data}, {train['max_steps']} steps (scale {scale})")
    print(reference_table(metrics, KEYS))
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/hifigan_ljspeech", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
