"""WaveGAN on SC09 (the spoken digits "zero" to "nine" of Speech Commands), as in the paper.

    python recipes/wavegan_sc09.py --data /data/sc09/train        # the paper's setup: a GPU job
    python recipes/wavegan_sc09.py --data /data/sc09/train --scale 0.01 --set model_size=32

The same run from the command line:
    multigan train --config recipes/wavegan_sc09.json --data /data/sc09/train --out runs/wavegan_sc09

SC09 is not downloaded: point --data at a local folder of its WAV files (any layout; SC09's
<word>/<file>.wav works). Files are mixed to mono, resampled to 16 kHz, peak-normalised and
zero-padded to 16,384 samples. The pitch metric is defined on notes only, so this recipe
reports where the samples went; listen to them.
"""

from __future__ import annotations

from pathlib import Path

from multigan.recipe import recipe_arguments, run_recipe

CONFIG = Path(__file__).with_suffix(".json")


def main(data: str, out_dir: str | Path = "runs/wavegan_sc09", scale: float = 1.0,
         overrides: dict | None = None, progress: bool = True) -> Path:
    """Train on the SC09 folder ``data`` and return the folder of samples."""
    _, _, train = run_recipe(CONFIG, out_dir, scale, overrides, data=data, progress=progress, evaluate=False)
    samples = Path(out_dir) / "samples"
    print(f"\nWaveGAN on {data}, {train['max_steps']} steps (scale {scale})")
    print(f"samples (WAV + spectrogram PNG): {samples}   training metrics: {Path(out_dir) / 'metrics.jsonl'}")
    return samples


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/wavegan_sc09", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
