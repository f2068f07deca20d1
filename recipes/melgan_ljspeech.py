"""MelGAN on LJSpeech, as in the paper: 22,050 Hz, 80-band log-mel, hop 256.

    python recipes/melgan_ljspeech.py --data /data/LJSpeech-1.1/wavs     # the paper's setup: a GPU job
    python recipes/melgan_ljspeech.py --data /data/LJSpeech-1.1/wavs --scale 0.001

The same run from the command line:
    multigan train --config recipes/melgan_ljspeech.json --data /data/LJSpeech-1.1/wavs --out runs/melgan_lj

LJSpeech is not downloaded: point --data at its local wavs/ folder. Training crops random
8,192-sample segments. The figures compare vocoded and original audio of the first 64 files of
the folder (log-mel L1, multi-resolution STFT distance, loudness error), beside Griffin-Lim
from the same mels, the vocoder fed another file's mel, white noise at each file's loudness and
an untrained vocoder (see docs/evaluation.md); hold files out of --data yourself for a clean
test.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")
KEYS = ("mel_l1", "stft_distance", "loudness_error_db")


def main(data: str, out_dir: str | Path = "runs/melgan_ljspeech", scale: float = 1.0,
         overrides: dict | None = None, n_samples: int = 64, progress: bool = True) -> dict:
    """Train on the folder ``data``, evaluate, print the figures beside the references and return
    the metrics."""
    _, metrics, train = run_recipe(CONFIG, out_dir, scale, overrides, data=data, n_samples=n_samples,
                                   progress=progress)
    print(f"\nMelGAN on {data}, {train['max_steps']} steps (scale {scale})")
    print(reference_table(metrics, KEYS))
    print(f"samples (WAV + spectrogram PNG): {Path(out_dir) / 'samples'}   metrics: {Path(out_dir) / 'eval.json'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/melgan_ljspeech", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
